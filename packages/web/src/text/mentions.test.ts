import { describe, expect, it } from 'vitest';
import { formatMessage } from './format.ts';
import { mentionRanges } from './mentions.ts';

describe('mention ranges', () => {
  it('finds every chosen label, longest first, without overlaps', () => {
    const text = 'hi @Ann Lee and @Ann, also @Ann Lee again';
    const ranges = mentionRanges(text, [
      { userId: 'ann', label: '@Ann' },
      { userId: 'annlee', label: '@Ann Lee' },
    ]);
    expect(ranges).toEqual([
      { userId: 'annlee', offset: 3, length: 8 },
      { userId: 'ann', offset: 16, length: 4 },
      { userId: 'annlee', offset: 27, length: 8 },
    ]);
    // The renderer turns exactly those ranges into mentions.
    expect(formatMessage(text, ranges).filter((t) => t.t === 'mention')).toHaveLength(3);
  });

  it('drops a label that was deleted from the text', () => {
    expect(mentionRanges('nobody here', [{ userId: 'x', label: '@Bob' }])).toEqual([]);
  });
});
