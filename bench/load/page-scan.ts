/**
 * W5's check of a history page without `JSON.parse`: the seqs of a
 * `{"messages":[envelope, …]}` body, read straight from its bytes.
 *
 * Parsing every 200-envelope page into objects (and decoding it to a string first) cost
 * the load generator more than the server spent producing the page, so the generator,
 * not the server, bounded the catch-up figure. What the check needs is each envelope's seq
 * and the proof that it belongs to the conversation asked for:
 *
 * - `"seq":` can only be a key here: inside a JSON string every `"` is escaped, so the
 *   byte sequence `"seq":` (a quote, then `seq`, then an unescaped quote and a colon)
 *   cannot occur in a string value, and an envelope has no other object with a `seq` key
 *   nor a key chosen by a user;
 * - every envelope carries `"conversationId":"<id>"`, so the number of those must equal
 *   the number of seqs (a row of another conversation, or a seq the scan invented, fails);
 * - a body that is not a history page (no `{"messages":[` at the start, or not ending in
 *   `]}`) fails.
 *
 * `crossCheck` parses a page the ordinary way and compares: the generator runs it on a
 * sample of pages, so a scan that ever read something else than a JSON parser would
 * stops the run instead of passing it.
 */

const SEQ = Buffer.from('"seq":');
const HEAD = Buffer.from('{"messages":[');
const TAIL = Buffer.from(']}');

export class PageScanError extends Error {}

/** The seqs of a history page body, in order; throws PageScanError on a body that is not one. */
export function scanSeqs(body: Buffer, conversationId: string): number[] {
  if (body.length < HEAD.length + TAIL.length || body.compare(HEAD, 0, HEAD.length, 0, HEAD.length) !== 0) {
    throw new PageScanError(`not a history page: ${body.subarray(0, 80).toString()}`);
  }
  const end = trimmedEnd(body);
  if (body.compare(TAIL, 0, TAIL.length, end - TAIL.length, end) !== 0) throw new PageScanError('a history page that does not end in ]}');
  return seqsIn(body, HEAD.length, end - TAIL.length, conversationId);
}

/** JSON may end in whitespace; ours does not, but a trailing newline must not fail the run. */
function trimmedEnd(body: Buffer): number {
  let end = body.length;
  while (end > 0 && (body[end - 1] === 0x20 || body[end - 1] === 0x0a || body[end - 1] === 0x0d || body[end - 1] === 0x09)) end--;
  return end;
}

/**
 * The seqs of the envelopes between `from` and `to`, each checked to be of `conversationId`:
 * every `"seq":` key must come right after `"conversationId":"<id>",` (the envelope's key
 * order). Each key is found with Buffer.indexOf (a native search, ~0.3 ns a byte here) and
 * checked with one compare: a loop over every byte in JavaScript cost 2.6 ns a byte, the
 * generator's largest cost in W5 (a 5,000-envelope catch-up is 2.3 MB).
 */
function seqsIn(body: Buffer, from: number, to: number, conversationId: string): number[] {
  const mine = Buffer.from(`"conversationId":${JSON.stringify(conversationId)},"seq":`);
  const m = mine.length;
  const seqs: number[] = [];
  const last = Math.min(to, body.length);
  for (let at = from; ; ) {
    // `"seq":` — a quote, s, e, q, a quote, a colon — and its envelope's conversation before it.
    const key = body.indexOf(SEQ, at);
    if (key === -1 || key + SEQ.length > last) break;
    const start = key + SEQ.length - m;
    if (start < from || body.compare(mine, 0, m, start, key + SEQ.length) !== 0) {
      throw new PageScanError(`a seq at byte ${key} not in an envelope of conversation ${conversationId}`);
    }
    let i = key + SEQ.length;
    const digits = i;
    let n = 0;
    for (let c = body[i]!; c >= 0x30 && c <= 0x39; c = body[++i]!) n = n * 10 + (c - 0x30);
    if (i === digits || i - digits > 15) throw new PageScanError(`a seq that is not a number at byte ${digits}`);
    seqs.push(n);
    at = i;
  }
  return seqs;
}

const BATCH_HEAD = Buffer.from('{"pages":[');

/** A page of a batch: its seqs, and where its `{"conversationId", "messages"}` object lies in the body. */
export interface BatchPage {
  seqs: number[];
  start: number;
  end: number;
}

/**
 * The seqs of each page of a batch body (POST /v1/sync/messages: `{"pages":[{"conversationId":
 * "<id>","messages":[envelope, …]}, …]}`), for the conversations asked, in the order asked;
 * a response that stopped early at its size budget has fewer pages than asked. Each page is
 * found by its head, `{"conversationId":"<id>","messages":[`: an envelope object starts with
 * `{"id":`, and inside a JSON string every `"` is escaped, so that head can only be a page's.
 * Throws PageScanError on anything else (an error in a page's place included).
 */
export function scanBatch(body: Buffer, conversationIds: string[]): BatchPage[] {
  if (body.compare(BATCH_HEAD, 0, BATCH_HEAD.length, 0, BATCH_HEAD.length) !== 0) throw new PageScanError(`not a batch of pages: ${body.subarray(0, 80).toString()}`);
  const end = trimmedEnd(body) - TAIL.length;
  if (body.compare(TAIL, 0, TAIL.length, end, end + TAIL.length) !== 0) throw new PageScanError('a batch of pages that does not end in ]}');
  const heads = conversationIds.map((id, i) => Buffer.from(`${i === 0 ? '' : ','}{"conversationId":${JSON.stringify(id)},"messages":[`));
  const pages: BatchPage[] = [];
  let at = BATCH_HEAD.length;
  for (let i = 0; i < heads.length && at < end; i++) {
    const head = heads[i]!;
    if (body.compare(head, 0, head.length, at, at + head.length) !== 0) throw new PageScanError(`page ${i} is not a page of ${conversationIds[i]}: ${body.subarray(at, at + 120).toString()}`);
    const next = i + 1 < heads.length ? body.indexOf(heads[i + 1]!, at + head.length) : -1;
    const pageEnd = (next === -1 || next > end ? end : next) - TAIL.length;
    if (body.compare(TAIL, 0, TAIL.length, pageEnd, pageEnd + TAIL.length) !== 0) throw new PageScanError(`page ${i} does not end in ]}`);
    pages.push({ seqs: seqsIn(body, at + head.length, pageEnd, conversationIds[i]!), start: at + (i === 0 ? 0 : 1), end: pageEnd + TAIL.length });
    at = pageEnd + TAIL.length;
  }
  if (at !== end) throw new PageScanError(`bytes after the last page: ${body.subarray(at, at + 80).toString()}`);
  return pages;
}

/** A batch through JSON.parse: throws unless it gives exactly the pages `scanBatch` read. */
export function crossCheckBatch(body: Buffer, conversationIds: string[], scanned: BatchPage[]): void {
  const { pages } = JSON.parse(body.toString('utf8')) as { pages: unknown[] };
  if (pages.length !== scanned.length) throw new PageScanError(`the scan read ${scanned.length} pages where JSON.parse reads ${pages.length}`);
  scanned.forEach((p, i) => crossCheckBatchPage(body, conversationIds[i]!, p));
}

/** One page of a batch, its own bytes through JSON.parse: throws unless it gives exactly the seqs `scanBatch` read. */
export function crossCheckBatchPage(body: Buffer, conversationId: string, page: BatchPage): void {
  const parsed = JSON.parse(body.subarray(page.start, page.end).toString('utf8')) as { conversationId: string; messages?: { seq: number; conversationId: string }[] };
  if (parsed.conversationId !== conversationId || !parsed.messages) throw new PageScanError(`not a page of ${conversationId}`);
  crossCheckSeqs(parsed.messages, conversationId, page.seqs);
}

/** The same page through JSON.parse: throws unless it gives exactly the seqs `scanSeqs` read. */
export function crossCheck(body: Buffer, conversationId: string, scanned: number[]): void {
  const { messages } = JSON.parse(body.toString('utf8')) as { messages: { seq: number; conversationId: string }[] };
  crossCheckSeqs(messages, conversationId, scanned);
}

function crossCheckSeqs(messages: { seq: number; conversationId: string }[], conversationId: string, scanned: number[]): void {
  const parsed = messages.map((m) => {
    if (m.conversationId !== conversationId) throw new PageScanError(`an envelope of ${m.conversationId} in a page of ${conversationId}`);
    return m.seq;
  });
  if (parsed.length !== scanned.length || parsed.some((s, i) => s !== scanned[i])) {
    throw new PageScanError(`the scan read seqs ${scanned.slice(0, 5).join(',')}… where JSON.parse reads ${parsed.slice(0, 5).join(',')}…`);
  }
}
