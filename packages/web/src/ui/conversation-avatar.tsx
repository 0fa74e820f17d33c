import { useEffect, useState } from 'react';
import type { Conversation } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { downloadAttachment } from '../lib/attachments.ts';
import { conversationAvatarId } from '../lib/conversations.ts';
import { PictureAvatar } from './avatar.tsx';

/** A conversation's avatar: the group's picture when it has one, else coloured initials. */
export function ConversationAvatar({ c, name, size }: { c: Conversation; name: string; size?: 'xs' | 's' | 'm' | 'l' }) {
  const { client, me } = useApp();
  const pictureId = c.type === 'group' ? c.avatarAttachmentId : null;
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    setUrl(null);
    if (!pictureId) return;
    let live = true;
    downloadAttachment(client, pictureId).then(
      (f) => live && f.image && setUrl(f.url),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, pictureId]);
  return <PictureAvatar url={url} id={conversationAvatarId(c, me.id)} name={name} size={size} />;
}
