import { useCallback, useEffect, useState } from 'react';
import type { MessageView, Pin } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { describeError } from '../lib/errors.ts';
import { IconClose, IconPin } from '../ui/icons.tsx';

/**
 * The conversation's pinned messages, kept fresh: loaded on open, again after a catch-up, and
 * whenever a notice (a pin, an unpin) or an unsend arrives in this conversation.
 */
export function usePins(conversationId: string): { pins: Pin[]; reload: () => void } {
  const { client } = useApp();
  const [pins, setPins] = useState<Pin[]>([]);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    client.pins.list(conversationId).then(
      (list) => live && setPins(list),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, conversationId, n]);
  useEffect(() => {
    const reload = () => setN((x) => x + 1);
    const offMessage = client.on('message', (e) => {
      if (e.conversationId === conversationId && (e.kind === 'system' || e.kind === 'delete')) reload();
    });
    const offSynced = client.on('synced', reload);
    return () => {
      offMessage();
      offSynced();
    };
  }, [client, conversationId]);
  return { pins, reload: useCallback(() => setN((x) => x + 1), []) };
}

/**
 * A bar under the conversation's header: the pinned message shown (the newest first; the
 * counter steps through the others), a click takes you to it, and those who may pin can
 * unpin it from here.
 */
export function PinnedBar({
  conversationId,
  pins,
  byId,
  canPin,
  onJump,
  reload,
}: {
  conversationId: string;
  pins: Pin[];
  byId: Map<string, MessageView>;
  canPin: boolean;
  onJump: (messageId: string, seq: number) => void;
  reload: () => void;
}) {
  const { client, toast } = useApp();
  const [index, setIndex] = useState(0);
  const [fetched, setFetched] = useState<Map<string, string>>(new Map());
  const at = pins.length ? Math.min(index, pins.length - 1) : 0;
  const pin = pins[at];
  const loaded = pin ? byId.get(pin.messageId) : undefined;

  // A pin older than the loaded history: read just that one message for the bar.
  useEffect(() => {
    if (!pin || loaded || fetched.has(pin.messageId)) return;
    let live = true;
    void (async () => {
      const [env] = await client.messages.history(conversationId, { before: pin.seq + 1, limit: 1 });
      const content = env?.id === pin.messageId && env.content ? await client.codec.decode(conversationId, env.content) : null;
      const text = content?.type === 'text' ? content.text || (content.attachments?.length ? '📎 Attachment' : '') : '';
      if (live) setFetched((prev) => new Map(prev).set(pin.messageId, text));
    })().catch(() => undefined);
    return () => {
      live = false;
    };
  }, [client, conversationId, pin, loaded, fetched]);

  if (!pin) return null;
  const text = loaded ? (loaded.text || (loaded.attachmentIds.length ? '📎 Attachment' : '')) : fetched.get(pin.messageId);
  const unpin = async () => {
    try {
      await client.pins.remove(conversationId, pin.messageId);
      reload();
    } catch (err) {
      toast(describeError(err));
    }
  };
  return (
    <div className="pinned-bar" role="region" aria-label="Pinned messages">
      <IconPin className="pin-icon" />
      <button type="button" className="pinned-main" onClick={() => onJump(pin.messageId, pin.seq)}>
        <span className="pinned-label">{pins.length > 1 ? `Pinned message ${at + 1} of ${pins.length}` : 'Pinned message'}</span>
        <span className="pinned-text">{text ?? '…'}</span>
      </button>
      {pins.length > 1 && (
        <button type="button" className="btn btn-ghost btn-small" onClick={() => setIndex((at + 1) % pins.length)}>
          Next<span className="visually-hidden"> pinned message</span>
        </button>
      )}
      {canPin && (
        <button type="button" className="icon-btn" aria-label="Unpin this message" title="Unpin" onClick={() => void unpin()}>
          <IconClose />
        </button>
      )}
    </div>
  );
}
