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
  // JSON may end in whitespace; ours does not, but a trailing newline must not fail the run.
  let end = body.length;
  while (end > 0 && (body[end - 1] === 0x20 || body[end - 1] === 0x0a || body[end - 1] === 0x0d || body[end - 1] === 0x09)) end--;
  if (body.compare(TAIL, 0, TAIL.length, end - TAIL.length, end) !== 0) throw new PageScanError('a history page that does not end in ]}');
  const seqs: number[] = [];
  for (let i = body.indexOf(SEQ, HEAD.length); i !== -1; i = body.indexOf(SEQ, i)) {
    i += SEQ.length;
    const start = i;
    let n = 0;
    for (let c = body[i]!; c >= 0x30 && c <= 0x39; c = body[++i]!) n = n * 10 + (c - 0x30);
    if (i === start || i - start > 15) throw new PageScanError(`a seq that is not a number at byte ${start}`);
    seqs.push(n);
  }
  const mine = Buffer.from(`"conversationId":${JSON.stringify(conversationId)}`);
  let rows = 0;
  for (let i = body.indexOf(mine, HEAD.length); i !== -1; i = body.indexOf(mine, i + mine.length)) rows++;
  if (rows !== seqs.length) throw new PageScanError(`${seqs.length} seqs but ${rows} envelopes of conversation ${conversationId}`);
  return seqs;
}

/** The same page through JSON.parse: throws unless it gives exactly the seqs `scanSeqs` read. */
export function crossCheck(body: Buffer, conversationId: string, scanned: number[]): void {
  const { messages } = JSON.parse(body.toString('utf8')) as { messages: { seq: number; conversationId: string }[] };
  const parsed = messages.map((m) => {
    if (m.conversationId !== conversationId) throw new PageScanError(`an envelope of ${m.conversationId} in a page of ${conversationId}`);
    return m.seq;
  });
  if (parsed.length !== scanned.length || parsed.some((s, i) => s !== scanned[i])) {
    throw new PageScanError(`the scan read seqs ${scanned.slice(0, 5).join(',')}… where JSON.parse reads ${parsed.slice(0, 5).join(',')}…`);
  }
}
