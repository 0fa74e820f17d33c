import type { ReactNode } from 'react';
import { formatMessage, type MentionRange, type Token } from '../text/format.ts';

/**
 * Message text as React elements only: React escapes every string, links carry only an
 * http(s) href that passed `safeHref`, and nothing is ever set as HTML.
 */
export function RichText({ text, mentions, myId }: { text: string; mentions?: readonly MentionRange[]; myId?: string }) {
  return <>{render(formatMessage(text, mentions ?? []), myId)}</>;
}

function render(tokens: Token[], myId: string | undefined): ReactNode[] {
  return tokens.map((t, i) => {
    switch (t.t) {
      case 'text':
        return t.v;
      case 'link':
        return (
          <a key={i} href={t.href} target="_blank" rel="noopener noreferrer nofollow ugc">
            {t.v}
          </a>
        );
      case 'code':
        return <code key={i}>{t.v}</code>;
      case 'bold':
        return <strong key={i}>{render(t.c, myId)}</strong>;
      case 'italic':
        return <em key={i}>{render(t.c, myId)}</em>;
      case 'mention':
        return (
          <span key={i} className={t.userId === myId ? 'mention me' : 'mention'}>
            {t.v}
          </span>
        );
      default: {
        const never: never = t;
        return never;
      }
    }
  });
}
