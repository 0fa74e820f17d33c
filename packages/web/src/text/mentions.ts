/** A person picked from the @-suggestions, and the label the composer inserted for them. */
export interface Chosen {
  userId: string;
  label: string;
}

/**
 * Where each chosen @name sits in the final text: the ranges travel with the message, so the
 * text can be edited freely after picking (a label deleted from the text is simply dropped).
 * Overlapping matches keep the first.
 */
export function mentionRanges(text: string, chosen: Chosen[]): { userId: string; offset: number; length: number }[] {
  const out: { userId: string; offset: number; length: number }[] = [];
  const taken: [number, number][] = [];
  // Longer labels first, so "@Ann Lee" is not claimed by "@Ann".
  for (const c of [...chosen].sort((a, b) => b.label.length - a.label.length)) {
    let from = 0;
    for (;;) {
      const at = text.indexOf(c.label, from);
      if (at < 0) break;
      const end = at + c.label.length;
      if (!taken.some(([a, b]) => at < b && end > a)) {
        out.push({ userId: c.userId, offset: at, length: c.label.length });
        taken.push([at, end]);
      }
      from = end;
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}
