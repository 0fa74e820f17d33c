import { History, type Envelope } from '@parley/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { precompile } from '../../packages/server/src/http/serializers.ts';
import { crossCheck, PageScanError, scanSeqs } from './page-scan.ts';

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
