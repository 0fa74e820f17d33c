/**
 * The message text grammar: http(s) links, **bold**, _italic_, `code` and mentions. It
 * produces tokens, never HTML: the renderer turns them into React elements, so nothing a
 * sender writes can become markup or script. Any other scheme (javascript:, data:, …)
 * stays plain text.
 */
export type Token =
  | { t: 'text'; v: string }
  | { t: 'link'; href: string; v: string }
  | { t: 'code'; v: string }
  | { t: 'bold'; c: Token[] }
  | { t: 'italic'; c: Token[] }
  | { t: 'mention'; userId: string; v: string };

export interface MentionRange {
  userId: string;
  offset: number;
  length: number;
}

const CODE = /`([^`\n]+)`/;
const BOLD = /\*\*(?=\S)([^\n]*?\S)\*\*/;
// Underscores inside words (snake_case) are not emphasis.
const ITALIC = /(?<![\p{L}\p{N}_])_(?=\S)([^\n_]*?\S)_(?![\p{L}\p{N}_])/u;
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/i;
// Closing punctuation after a link usually ends the sentence, not the address.
const TRAILING = new Set(['.', ',', ';', ':', '!', '?', ']', '}', "'", '"', '*', '_']);

function count(s: string, c: string): number {
  return s.split(c).length - 1;
}

function trimLink(raw: string): string {
  let s = raw;
  while (s.length) {
    const c = s[s.length - 1]!;
    // A closing parenthesis stays when it balances one in the address (wiki/Foo_(bar)).
    if (c === ')' ? count(s, '(') >= count(s, ')') : !TRAILING.has(c)) break;
    s = s.slice(0, -1);
  }
  return s;
}

/** A safe href for a candidate link, or null: only absolute http(s) URLs pass. */
export function safeHref(candidate: string): string | null {
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (!url.hostname) return null;
  return url.href;
}

interface Hit {
  index: number;
  length: number;
  token: Token;
}

function firstHit(text: string, allowFormatting: boolean): Hit | null {
  const hits: Hit[] = [];
  const code = CODE.exec(text);
  if (code) hits.push({ index: code.index, length: code[0].length, token: { t: 'code', v: code[1]! } });
  const url = URL_RE.exec(text);
  if (url) {
    const raw = trimLink(url[0]);
    const href = safeHref(raw);
    if (href) hits.push({ index: url.index, length: raw.length, token: { t: 'link', href, v: raw } });
  }
  if (allowFormatting) {
    const bold = BOLD.exec(text);
    if (bold) hits.push({ index: bold.index, length: bold[0].length, token: { t: 'bold', c: parseInline(bold[1]!, false) } });
    const italic = ITALIC.exec(text);
    if (italic) hits.push({ index: italic.index, length: italic[0].length, token: { t: 'italic', c: parseInline(italic[1]!, false) } });
  }
  if (!hits.length) return null;
  // The earliest wins; on a tie the longer (a link that contains an underscore beats italic).
  hits.sort((a, b) => a.index - b.index || b.length - a.length);
  return hits[0]!;
}

/** Parse one run of text (no mentions) into tokens. Bold and italic do not nest into themselves. */
export function parseInline(text: string, allowFormatting = true): Token[] {
  const out: Token[] = [];
  let rest = text;
  while (rest.length) {
    const hit = firstHit(rest, allowFormatting);
    if (!hit) {
      push(out, { t: 'text', v: rest });
      break;
    }
    if (hit.index > 0) push(out, { t: 'text', v: rest.slice(0, hit.index) });
    push(out, hit.token);
    rest = rest.slice(hit.index + hit.length);
  }
  return out;
}

function push(out: Token[], token: Token): void {
  const last = out[out.length - 1];
  if (token.t === 'text' && last?.t === 'text') last.v += token.v;
  else if (token.t !== 'text' || token.v) out.push(token);
}

/**
 * Tokens of a whole message. Mention ranges come from the sender's client and are
 * untrusted: ranges that overlap, fall outside the text or are malformed are ignored.
 */
export function formatMessage(text: string, mentions: readonly MentionRange[] = []): Token[] {
  const ranges = mentions
    .filter((m) => Number.isInteger(m.offset) && Number.isInteger(m.length) && m.offset >= 0 && m.length > 0 && m.offset + m.length <= text.length)
    .slice()
    .sort((a, b) => a.offset - b.offset);
  const out: Token[] = [];
  let at = 0;
  for (const m of ranges) {
    if (m.offset < at) continue;
    for (const t of parseInline(text.slice(at, m.offset))) push(out, t);
    out.push({ t: 'mention', userId: m.userId, v: text.slice(m.offset, m.offset + m.length) });
    at = m.offset + m.length;
  }
  for (const t of parseInline(text.slice(at))) push(out, t);
  return out;
}

const EMOJI_ONLY = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f|\s)+$/u;

/** Short messages made only of emoji are shown larger, as other messengers do. */
export function isEmojiOnly(text: string): boolean {
  const trimmed = text.trim();
  return trimmed.length > 0 && trimmed.length <= 24 && EMOJI_ONLY.test(trimmed) && /\p{Extended_Pictographic}/u.test(trimmed);
}
