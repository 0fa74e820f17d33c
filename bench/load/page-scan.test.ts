import { History, type Envelope } from '@parley/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { precompile } from '../../packages/server/src/http/serializers.ts';
import { crossCheck, crossCheckBatch, crossCheckBatchPage, PageScanError, scanBatch, scanSeqs } from './page-scan.ts';

// The server's own serializer of a history page, so the scan reads what the server writes.
const serialize = precompile(History);
const CONV = '0192f0a0-0000-7000-8000-000000000001';
const OTHER = '0192f0a0-0000-7000-8000-000000000002';

const envelope = (seq: number, data: string, conversationId = CONV, clientId = `c-${seq}`): Envelope => ({
  id: `0192f0a0-0000-7000-8000-${String(seq).padStart(12, '0')}`,
  conversationId,
  seq,
  senderId: '0192f0a0-0000-7000-8000-00000000000a',
  senderDeviceId: '0192f0a0-0000-7000-8000-00000000000b',
  clientId,
  kind: 'message',
  refs: {},
  content: { encoding: 'plain', data },
  attachmentIds: [],
  createdAt: '2026-12-01T22:00:00.000Z',
});
const page = (envelopes: Envelope[]) => Buffer.from(serialize({ messages: envelopes }));

describe('scanSeqs', () => {
  it('reads the seqs of a page as JSON.parse does, whatever the payloads hold', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 2 ** 40 }), fc.string({ unit: 'binary' }), fc.string()), { maxLength: 30 }), (rows) => {
        const body = page(rows.map(([seq, data, clientId]) => envelope(seq, data, CONV, clientId || 'c')));
        const seqs = scanSeqs(body, CONV);
        expect(seqs).toEqual(rows.map(([seq]) => seq));
        crossCheck(body, CONV, seqs);
      }),
    );
  });

  it('is not fooled by a payload or client id that spells a seq key', () => {
    const body = page([envelope(7, '{"seq":99,"conversationId":"x"}', CONV, '"seq":98'), envelope(8, '\\"seq\\":97')]);
    expect(scanSeqs(body, CONV)).toEqual([7, 8]);
  });

  it('reads an empty page as no seqs', () => {
    expect(scanSeqs(page([]), CONV)).toEqual([]);
  });

  it('refuses a page with an envelope of another conversation', () => {
    const body = page([envelope(1, 'a'), envelope(2, 'b', OTHER)]);
    expect(() => scanSeqs(body, CONV)).toThrow(PageScanError);
    expect(() => crossCheck(body, CONV, [1, 2])).toThrow(PageScanError);
  });

  it('refuses what is not a history page', () => {
    expect(() => scanSeqs(Buffer.from('{"error":{"code":"not_found","message":"no"}}'), CONV)).toThrow(PageScanError);
    expect(() => scanSeqs(Buffer.from('{"messages":[{"seq":1,"conversationId":"' + CONV + '"}'), CONV)).toThrow(PageScanError);
    expect(() => scanSeqs(Buffer.from(`{"messages":[{"seq":x,"conversationId":"${CONV}"}]}`), CONV)).toThrow(PageScanError);
  });

  it('crossCheck fails when the scan and the parser disagree', () => {
    const body = page([envelope(1, 'a'), envelope(2, 'b')]);
    expect(() => crossCheck(body, CONV, [1, 3])).toThrow(PageScanError);
    expect(() => crossCheck(body, CONV, [1])).toThrow(PageScanError);
  });
});

// The server writes a batch as JSON.stringify would: {"pages":[{"conversationId","messages"}, …]}.
const batch = (pages: { conversationId: string; messages?: Envelope[]; error?: unknown }[]) => Buffer.from(JSON.stringify({ pages }));
const THIRD = '0192f0a0-0000-7000-8000-000000000003';

describe('scanBatch', () => {
  it('reads the seqs of each page as JSON.parse does, whatever the payloads hold', () => {
    const ids = [CONV, OTHER, THIRD];
    fc.assert(
      fc.property(fc.array(fc.array(fc.tuple(fc.nat({ max: 2 ** 40 }), fc.string({ unit: 'binary' })), { maxLength: 8 }), { minLength: 3, maxLength: 3 }), (rows) => {
        const body = batch(rows.map((r, i) => ({ conversationId: ids[i]!, messages: r.map(([seq, data]) => envelope(seq, data, ids[i])) })));
        const pages = scanBatch(body, ids);
        expect(pages.map((p) => p.seqs)).toEqual(rows.map((r) => r.map(([seq]) => seq)));
        crossCheckBatch(body, ids, pages);
        pages.forEach((p, i) => crossCheckBatchPage(body, ids[i]!, p));
      }),
    );
  });

  it('reads a batch that stopped early as the pages it holds', () => {
    const body = batch([{ conversationId: CONV, messages: [envelope(1, 'a'), envelope(2, '{"conversationId":"' + OTHER + '","messages":[')] }]);
    expect(scanBatch(body, [CONV, OTHER]).map((p) => p.seqs)).toEqual([[1, 2]]);
    expect(scanBatch(batch([]), [CONV])).toEqual([]);
  });

  it('refuses an error in a page, pages out of order, and an envelope of another conversation', () => {
    expect(() => scanBatch(batch([{ conversationId: CONV, error: { code: 'not_found', message: 'no' } }]), [CONV])).toThrow(PageScanError);
    expect(() => scanBatch(batch([{ conversationId: OTHER, messages: [] }, { conversationId: CONV, messages: [] }]), [CONV, OTHER])).toThrow(PageScanError);
    expect(() => scanBatch(batch([{ conversationId: CONV, messages: [envelope(1, 'a', OTHER)] }]), [CONV])).toThrow(PageScanError);
    expect(() => scanBatch(Buffer.from('{"messages":[]}'), [CONV])).toThrow(PageScanError);
  });

  it('crossCheckBatch fails when the scan and the parser disagree', () => {
    const body = batch([{ conversationId: CONV, messages: [envelope(1, 'a')] }, { conversationId: OTHER, messages: [envelope(5, 'b', OTHER)] }]);
    const pages = scanBatch(body, [CONV, OTHER]);
    expect(() => crossCheckBatch(body, [CONV, OTHER], [pages[0]!, { ...pages[1]!, seqs: [6] }])).toThrow(PageScanError);
    expect(() => crossCheckBatch(body, [CONV, OTHER], [pages[0]!])).toThrow(PageScanError);
    expect(() => crossCheckBatchPage(body, OTHER, pages[0]!)).toThrow(PageScanError);
    expect(() => crossCheckBatchPage(body, OTHER, { ...pages[1]!, seqs: [5, 6] })).toThrow(PageScanError);
  });
});
