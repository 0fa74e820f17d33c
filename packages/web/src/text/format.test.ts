import { describe, expect, it } from 'vitest';
import { formatMessage, isEmojiOnly, parseInline, safeHref } from './format.ts';

describe('message text format', () => {
  it('linkifies http and https only', () => {
    expect(parseInline('see https://example.com/a?b=1 now')).toEqual([
      { t: 'text', v: 'see ' },
      { t: 'link', href: 'https://example.com/a?b=1', v: 'https://example.com/a?b=1' },
      { t: 'text', v: ' now' },
    ]);
    for (const bad of ['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', 'file:///etc/passwd', '//evil.example']) {
      const tokens = parseInline(bad);
      expect(tokens, bad).toEqual([{ t: 'text', v: bad }]);
    }
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('http://')).toBeNull();
  });

  it('keeps markup as text: nothing is parsed as HTML', () => {
    const evil = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    expect(formatMessage(evil)).toEqual([{ t: 'text', v: evil }]);
  });

  it('does not carry a javascript: scheme hidden in a link', () => {
    const tokens = parseInline('https://x.example/"onmouseover="alert(1) and http://a.example/<b>');
    const links = tokens.filter((t) => t.t === 'link');
    expect(links.map((l) => (l as { href: string }).href)).toEqual(['https://x.example/', 'http://a.example/']);
  });

  it('trims sentence punctuation after a link but keeps balanced parentheses', () => {
    expect(parseInline('go to https://example.com.')[1]).toMatchObject({ href: 'https://example.com/' });
    expect(parseInline('(https://example.com/x)')[1]).toMatchObject({ v: 'https://example.com/x' });
    expect(parseInline('https://en.wikipedia.org/wiki/Foo_(bar)')[0]).toMatchObject({ v: 'https://en.wikipedia.org/wiki/Foo_(bar)' });
  });

  it('renders bold, italic and code, with no formatting inside code', () => {
    expect(parseInline('a **b** _c_ `**d**`')).toEqual([
      { t: 'text', v: 'a ' },
      { t: 'bold', c: [{ t: 'text', v: 'b' }] },
      { t: 'text', v: ' ' },
      { t: 'italic', c: [{ t: 'text', v: 'c' }] },
      { t: 'text', v: ' ' },
      { t: 'code', v: '**d**' },
    ]);
  });

  it('leaves snake_case words and unmatched markers alone', () => {
    expect(parseInline('my_var_name and **open')).toEqual([{ t: 'text', v: 'my_var_name and **open' }]);
    expect(parseInline('https://example.com/a_b_c')).toEqual([{ t: 'link', href: 'https://example.com/a_b_c', v: 'https://example.com/a_b_c' }]);
  });

  it('places mentions from their ranges and ignores bad ranges', () => {
    const text = 'hi @bob and **all**';
    expect(formatMessage(text, [{ userId: 'u1', offset: 3, length: 4 }])).toEqual([
      { t: 'text', v: 'hi ' },
      { t: 'mention', userId: 'u1', v: '@bob' },
      { t: 'text', v: ' and ' },
      { t: 'bold', c: [{ t: 'text', v: 'all' }] },
    ]);
    const bad = [{ userId: 'x', offset: 100, length: 3 }, { userId: 'y', offset: -1, length: 2 }, { userId: 'z', offset: 0, length: 0 }];
    expect(formatMessage('plain', bad)).toEqual([{ t: 'text', v: 'plain' }]);
  });

  it('recognises emoji-only messages', () => {
    expect(isEmojiOnly('🎉')).toBe(true);
    expect(isEmojiOnly('👍🏽 ❤️')).toBe(true);
    expect(isEmojiOnly('ok 👍')).toBe(false);
    expect(isEmojiOnly('123')).toBe(false);
  });
});
