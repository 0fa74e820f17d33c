import { memo, useRef, useState } from 'react';
import type { MessageView } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { describeError } from '../lib/errors.ts';
import { formatDateTime, formatTime } from '../lib/time.ts';
import { isEmojiOnly } from '../text/format.ts';
import { Avatar } from '../ui/avatar.tsx';
import { EmojiPicker, QUICK_REACTIONS } from '../ui/emoji-picker.tsx';
import { IconAlert, IconCheck, IconCheckDouble, IconClock, IconEdit, IconForward, IconMore, IconPin, IconReply, IconSmile, IconTrash } from '../ui/icons.tsx';
import { Modal } from '../ui/modal.tsx';
import { ForwardDialog } from './forward.tsx';
import { RichText } from '../ui/rich-text.tsx';
import { Attachments } from './attachments.tsx';

export interface MessageProps {
  m: MessageView;
  mine: boolean;
  group: boolean;
  /** Same sender as the previous / next bubble: no repeated name, tighter spacing. */
  groupedPrev: boolean;
  groupedNext: boolean;
  canUnsend: boolean;
  quoted: MessageView | undefined;
  onReply(m: MessageView): void;
  onEdit(m: MessageView): void;
  onJump(messageId: string): void;
  /** Pinned in this conversation, and whether I may pin or unpin it. */
  pinned: boolean;
  canPin: boolean;
  onPin(m: MessageView): void;
}

const STATUS_LABEL = { pending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent' } as const;

function StatusIcon({ status }: { status: MessageView['status'] }) {
  switch (status) {
    case 'pending':
      return <IconClock />;
    case 'sent':
      return <IconCheck />;
    case 'delivered':
      return <IconCheckDouble />;
    case 'read':
      return <IconCheckDouble className="read" />;
    case 'failed':
      return <IconAlert />;
    default:
      return null;
  }
}

export const Message = memo(function Message({ m, mine, group, groupedPrev, groupedNext, canUnsend, quoted, onReply, onEdit, onJump, pinned, canPin, onPin }: MessageProps) {
  const { client, me, users, toast } = useApp();
  const [picker, setPicker] = useState(false);
  const [menu, setMenu] = useState(false);
  const [below, setBelow] = useState(false);
  const [forwarding, setForwarding] = useState(false);
  const [versions, setVersions] = useState(false);
  const row = useRef<HTMLDivElement>(null);
  // A popover opens above the message unless that would run past the top of the timeline.
  const place = () => {
    const el = row.current;
    const top = el?.closest('.timeline')?.getBoundingClientRect().top ?? 0;
    setBelow(!!el && el.getBoundingClientRect().top - top < 340);
  };
  const sender = mine ? 'You' : users.name(m.senderId);
  const text = m.text ?? '';
  const content = m.content?.type === 'text' ? m.content : null;
  const live = !m.deleted && !m.unreadable && m.id !== null;
  const react = (emoji: string) => {
    setPicker(false);
    if (m.id) client.react(m.conversationId, m.id, emoji).catch((err) => toast(describeError(err)));
  };
  const unsend = async () => {
    setMenu(false);
    if (!m.id) return;
    if (!window.confirm('Unsend this message for everyone?')) return;
    try {
      await client.unsend(m.conversationId, m.id);
    } catch (err) {
      toast(describeError(err));
    }
  };
  const quote = content?.replyPreview ?? (m.replyTo ? { messageId: m.replyTo, senderId: quoted?.senderId ?? '', text: quoted?.text ?? '' } : null);
  const quoteText = quoted?.deleted ? 'Original message unsent' : quoted?.text ?? quote?.text ?? '';
  const quoteWho = quote ? (quote.senderId === me.id ? 'You' : quote.senderId ? users.name(quote.senderId) : 'Message') : '';
  const bubbleClass = m.deleted ? 'bubble unsent' : !quote && !m.attachmentIds.length && isEmojiOnly(text) ? 'bubble emoji-only' : 'bubble';

  return (
    <div ref={row} id={m.id ? `msg-${m.id}` : undefined} className={`msg-row ${mine ? 'out' : 'in'}${groupedPrev ? ' grouped' : ''}${groupedNext ? ' grouped-next' : ''}`} data-testid="message" data-status={m.status ?? undefined}>
      {group && !mine && <span className="avatar-slot">{!groupedNext && <Avatar id={m.senderId} name={users.name(m.senderId)} size="s" />}</span>}
      <div className="msg">
        {group && !mine && !groupedPrev && <span className="sender-name">{sender}</span>}
        <div className={bubbleClass}>
          <span className="visually-hidden">{sender}: </span>
          {quote && !m.deleted && (
            <button type="button" className="reply-quote" onClick={() => onJump(quote.messageId)} title="Show the original message">
              <span className="visually-hidden">In reply to </span>
              <strong>{quoteWho}</strong>
              <span className="visually-hidden">: </span>
              <span>{quoteText}</span>
            </button>
          )}
          {m.forwarded && !m.deleted && (
            <span className="forwarded">
              <IconForward aria-hidden="true" /> Forwarded
            </span>
          )}
          {m.deleted ? (
            mine ? 'You unsent this message' : 'This message was unsent'
          ) : m.unreadable ? (
            <em>This message could not be read.</em>
          ) : (
            <>
              {m.attachmentIds.length > 0 && <Attachments ids={m.attachmentIds} infos={m.attachments} />}
              <span className="text">
                <RichText text={text} mentions={content?.mentions} myId={me.id} />
              </span>
            </>
          )}
          <span className="meta">
            {pinned && (
              <span title="Pinned">
                <IconPin className="meta-pin" aria-hidden="true" />
                <span className="visually-hidden">Pinned. </span>
              </span>
            )}
            {m.edited && !m.deleted && (
              <>
                <button type="button" className="edited-btn" onClick={() => setVersions(true)} aria-label="Edited: show the edit history">
                  edited
                </button>
                <span aria-hidden="true">·</span>
              </>
            )}
            <time dateTime={m.createdAt} title={formatDateTime(m.createdAt)}>
              {formatTime(m.createdAt)}
            </time>
            {mine && m.status && (
              <span role="img" aria-label={STATUS_LABEL[m.status]} title={STATUS_LABEL[m.status]} data-testid="status">
                <StatusIcon status={m.status} />
              </span>
            )}
          </span>
        </div>
        {m.reactions.length > 0 && (
          <div className="reactions">
            {m.reactions.map((r) => (
              <button
                key={r.emoji}
                type="button"
                className="reaction"
                aria-pressed={r.mine}
                title={r.userIds.map((id) => (id === me.id ? 'You' : users.name(id))).join(', ')}
                aria-label={`${r.emoji} ${r.count}, ${r.mine ? 'remove your reaction' : 'react'}`}
                onClick={() => react(r.emoji)}
              >
                <span aria-hidden="true">{r.emoji}</span>
                <span className="count" aria-hidden="true">
                  {r.count}
                </span>
              </button>
            ))}
          </div>
        )}
        {m.status === 'failed' && (
          <div className="msg-failed" role="alert">
            <IconAlert width={16} height={16} />
            <span>Not sent{m.error ? `: ${describeError(m.error)}` : ''}</span>
            <button type="button" className="btn btn-small" onClick={() => void client.retry(m.clientId)}>
              Retry
            </button>
          </div>
        )}
      </div>
      {live && (
        <div className={`msg-actions${picker || menu ? ' open' : ''}`}>
          <button type="button" className="icon-btn" aria-label={`React to ${sender}’s message`} aria-expanded={picker} onClick={() => (place(), setMenu(false), setPicker((p) => !p))}>
            <IconSmile />
          </button>
          <button type="button" className="icon-btn" aria-label={`Reply to ${sender}’s message`} onClick={() => onReply(m)}>
            <IconReply />
          </button>
          {(mine || canUnsend || canPin || m.content?.type === 'text') && (
            <button type="button" className="icon-btn" aria-label="More actions" aria-expanded={menu} aria-haspopup="menu" onClick={() => (place(), setPicker(false), setMenu((x) => !x))}>
              <IconMore />
            </button>
          )}
        </div>
      )}
      {picker && (
        <EmojiPicker label="Reactions" quick={QUICK_REACTIONS} onPick={react} onClose={() => setPicker(false)} className={`reaction-popover ${mine ? 'right' : 'left'}${below ? ' below' : ''}`} />
      )}
      {forwarding && <ForwardDialog message={m} onClose={() => setForwarding(false)} />}
      {versions && (
        <Modal title="Edit history" onClose={() => setVersions(false)}>
          <ol className="version-list">
            {(m.id ? client.store.editHistory(m.id) : []).map((v, i, all) => (
              <li key={v.at + i}>
                <time dateTime={v.at}>
                  {i === 0 ? 'Sent' : 'Edited'} {formatDateTime(v.at)}
                  {i === all.length - 1 ? ' · current' : ''}
                </time>
                <RichText text={v.text} myId={me.id} />
              </li>
            ))}
          </ol>
        </Modal>
      )}
      {menu && (
        <div className={`popover menu-popover ${mine ? 'right' : 'left'}${below ? ' below' : ''}`} role="menu" onKeyDown={(e) => e.key === 'Escape' && setMenu(false)}>
          <div className="menu">
            {mine && m.content?.type === 'text' && (
              <button type="button" role="menuitem" autoFocus onClick={() => (setMenu(false), onEdit(m))}>
                <IconEdit /> Edit
              </button>
            )}
            {m.content?.type === 'text' && (
              <button type="button" role="menuitem" autoFocus={!mine} onClick={() => (setMenu(false), setForwarding(true))}>
                <IconForward /> Forward
              </button>
            )}
            {canPin && (
              <button type="button" role="menuitem" autoFocus={m.content?.type !== 'text'} onClick={() => (setMenu(false), onPin(m))}>
                <IconPin /> {pinned ? 'Unpin' : 'Pin'}
              </button>
            )}
            {(mine || canUnsend) && (
              <button type="button" role="menuitem" className="danger" autoFocus={m.content?.type !== 'text' && !canPin} onClick={() => void unsend()}>
                <IconTrash /> Unsend for everyone
              </button>
            )}
          </div>
        </div>
      )}
    </div>
  );
});
