import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { ApiError, type Conversation, type MessageView } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { conversationAvatarId, conversationName, durationText, otherMemberId, systemText } from '../lib/conversations.ts';
import { describeError } from '../lib/errors.ts';
import { navigate } from '../lib/router.ts';
import { dayKey, formatDay } from '../lib/time.ts';
import { useDirectory } from '../lib/users.ts';
import { Avatar } from '../ui/avatar.tsx';
import { ConversationAvatar } from '../ui/conversation-avatar.tsx';
import { IconBack, IconClock, IconInfo } from '../ui/icons.tsx';
import { Composer } from './composer.tsx';
import { ConversationInfo } from './conversation-info.tsx';
import { Message } from './message.tsx';
import { PinnedBar, usePins } from './pinned-bar.tsx';

const GROUP_WINDOW_MS = 5 * 60_000;

export function ConversationView({ conversationId }: { conversationId: string }) {
  const { client } = useApp();
  const conversation = useSyncExternalStore(client.store.subscribe, () => client.store.getConversation(conversationId));
  const [missing, setMissing] = useState(false);

  useEffect(() => {
    if (conversation) return;
    let live = true;
    client.conversations.get(conversationId).then(
      (c) => live && client.store.upsertConversation(c),
      (err) => live && err instanceof ApiError && (err.code === 'not_found' || err.code === 'invalid_request') && setMissing(true),
    );
    return () => {
      live = false;
    };
  }, [client, conversationId, conversation]);

  if (!conversation) {
    return (
      <div className="pane-empty" role="status">
        {missing ? (
          <>
            <h2>Conversation not found</h2>
            <button type="button" className="btn" onClick={() => navigate({ name: 'inbox' })}>
              Back to conversations
            </button>
          </>
        ) : (
          <div className="spinner" aria-label="Loading" />
        )}
      </div>
    );
  }
  return <Loaded conversation={conversation} />;
}

function useTyping(conversationId: string): string[] {
  const { client, me } = useApp();
  const [typing, setTyping] = useState<Map<string, number>>(new Map());
  useEffect(() => {
    const offTyping = client.on('typing', (e) => {
      if (e.conversationId !== conversationId || e.userId === me.id) return;
      setTyping((prev) => {
        const next = new Map(prev);
        if (e.active) next.set(e.userId, Date.now() + 6000);
        else next.delete(e.userId);
        return next;
      });
    });
    // A message from someone ends their typing at once.
    const offMessage = client.on('message', (env) => {
      if (env.conversationId !== conversationId) return;
      setTyping((prev) => {
        if (!prev.has(env.senderId)) return prev;
        const next = new Map(prev);
        next.delete(env.senderId);
        return next;
      });
    });
    const sweep = setInterval(() => {
      setTyping((prev) => {
        const now = Date.now();
        if (![...prev.values()].some((t) => t < now)) return prev;
        return new Map([...prev].filter(([, t]) => t >= now));
      });
    }, 1000);
    return () => {
      offTyping();
      offMessage();
      clearInterval(sweep);
    };
  }, [client, conversationId, me.id]);
  return [...typing.keys()];
}

function usePresence(userId: string | null): { status: 'online' | 'offline'; lastSeenAt: string | null } | null {
  const { client } = useApp();
  const [presence, setPresence] = useState<{ status: 'online' | 'offline'; lastSeenAt: string | null } | null>(null);
  useEffect(() => {
    if (!userId) return;
    return client.on('presence', (p) => {
      if (p.userId === userId) setPresence({ status: p.status, lastSeenAt: p.lastSeenAt });
    });
  }, [client, userId]);
  return presence;
}

function Loaded({ conversation: c }: { conversation: Conversation }) {
  const { client, me, users, toast } = useApp();
  const dir = useDirectory(users);
  const messages = useSyncExternalStore(client.store.subscribe, () => client.store.getMessages(c.id));
  const hasOlder = useSyncExternalStore(client.store.subscribe, () => client.store.hasOlder(c.id));
  const [replyTo, setReplyTo] = useState<MessageView | null>(null);
  const [editing, setEditing] = useState<MessageView | null>(null);
  const [infoOpen, setInfoOpen] = useState(false);
  const typing = useTyping(c.id);
  const other = c.type === 'direct' ? otherMemberId(c, me.id) : null;
  const presence = usePresence(other);
  const name = conversationName(c, me.id, dir);
  const myRole = c.members.find((m) => m.userId === me.id)?.role ?? 'member';
  const isAdmin = myRole === 'owner' || myRole === 'admin';
  const active = c.members.filter((m) => m.state === 'active');

  const { pins, reload: reloadPins } = usePins(c.id);
  const pinnedIds = useMemo(() => new Set(pins.map((p) => p.messageId)), [pins]);
  const canPin = c.myState === 'active' && (c.type === 'direct' || isAdmin);
  const togglePin = useCallback(
    (m: MessageView) => {
      if (!m.id) return;
      const change = pinnedIds.has(m.id) ? client.pins.remove(c.id, m.id) : client.pins.add(c.id, m.id);
      change.then(reloadPins, (err) => toast(describeError(err)));
    },
    [client, c.id, pinnedIds, reloadPins, toast],
  );

  const visible = useMemo(() => messages.filter((m) => !(m.kind === 'message' && m.senderId !== me.id && client.store.isBlocked(m.senderId))), [messages, client, me.id]);
  const byId = useMemo(() => new Map(visible.filter((m) => m.id).map((m) => [m.id!, m])), [visible]);

  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  /** While an older page loads: the oldest item shown, and where it sat in the viewport. */
  const anchor = useRef<{ key: string; top: number } | null>(null);
  const loadingOlder = useRef(false);
  const [olderError, setOlderError] = useState<string | null>(null);

  /**
   * Page older messages in while the reader is near the top. It loops rather than waiting for
   * the next scroll event: a page can add nothing to show (reactions, edits), and a timeline
   * left at scrollTop 0 fires no scroll event when asked to scroll to 0 again.
   */
  const loadOlder = useCallback(async () => {
    if (loadingOlder.current) return;
    loadingOlder.current = true;
    try {
      for (;;) {
        const el = scroller.current;
        if (!el || !client.store.hasOlder(c.id) || !(el.scrollTop < 160 || el.scrollHeight <= el.clientHeight + 40)) break;
        const first = el.querySelector<HTMLElement>('.timeline-item');
        anchor.current = first?.dataset.key ? { key: first.dataset.key, top: offsetIn(el, first) } : null;
        await client.loadOlder(c.id);
        setOlderError(null);
        // The page renders (and the layout effect keeps the place) before the next look at the top.
        await settle();
        anchor.current = null;
      }
    } catch (err) {
      setOlderError(describeError(err));
    } finally {
      anchor.current = null;
      loadingOlder.current = false;
    }
  }, [client, c.id]);

  // Keep the reader's place: while an older page loads, every render (the page itself, or a
  // message that arrives meanwhile) keeps the item that was on top where it was; otherwise
  // new messages scroll into view only for someone already reading the bottom.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const held = anchor.current;
    const item = held ? el.querySelector<HTMLElement>(`.timeline-item[data-key="${CSS.escape(held.key)}"]`) : null;
    if (held && item) {
      el.scrollTop += offsetIn(el, item) - held.top;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [visible]);

  // A short history leaves no room to scroll, and a reader left at the top wants more: page on.
  useEffect(() => {
    if (hasOlder) void loadOlder();
  }, [visible, hasOlder, loadOlder]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 160) void loadOlder();
    if (atBottom.current) markRead();
  };

  const markRead = useCallback(() => {
    const conv = client.store.getConversation(c.id);
    if (!conv || conv.myState !== 'active' || document.visibilityState !== 'visible') return;
    if (!atBottom.current) return;
    const last = visible.findLast((m) => m.seq !== null)?.seq ?? 0;
    if (conv.unreadCount > 0 || last > (readSent.current ?? 0)) {
      readSent.current = last;
      client.markRead(c.id, Math.max(last, conv.lastSeq)).catch(() => undefined);
    }
  }, [client, c.id, visible]);
  const readSent = useRef<number | null>(null);

  useEffect(() => {
    markRead();
    const onVisible = () => markRead();
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('focus', onVisible);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('focus', onVisible);
    };
  }, [markRead]);

  /** Show a message; given its seq, page older history in until it is there. */
  const jump = async (messageId: string, seq?: number) => {
    const find = () => document.getElementById(`msg-${messageId}`);
    try {
      while (!find() && seq !== undefined && client.store.hasOlder(c.id) && (client.store.oldestSeq(c.id) ?? 0) > seq) {
        await client.loadOlder(c.id);
        await settle();
      }
    } catch (err) {
      toast(describeError(err));
    }
    const el = find();
    if (!el) return;
    el.scrollIntoView({ block: 'center', behavior: 'smooth' });
    el.classList.add('flash');
    setTimeout(() => el.classList.remove('flash'), 1200);
  };

  const editLast = () => {
    const last = visible.findLast((m) => m.senderId === me.id && m.kind === 'message' && !m.deleted && m.id && m.content?.type === 'text');
    if (last) setEditing(last);
  };

  const subtitle = typing.length
    ? `${typing.map((id) => dir.name(id)).join(', ')} ${typing.length > 1 ? 'are' : 'is'} typing…`
    : c.type === 'group'
      ? `${active.length} member${active.length === 1 ? '' : 's'}`
      : presence?.status === 'online'
        ? 'online'
        : other
          ? `@${dir.get(other)?.username ?? ''}`
          : '';

  const theirState = other ? c.members.find((m) => m.userId === other)?.state : undefined;

  return (
    <div className="conv">
      <div className="conv-col">
        <header className="conv-head">
          <button type="button" className="icon-btn back-btn" aria-label="Back to conversations" onClick={() => navigate({ name: c.myState === 'request' ? 'requests' : 'inbox' })}>
            <IconBack />
          </button>
          <ConversationAvatar c={c} name={name} size="s" />
          <div className="title">
            <h2 id="conv-title">{name}</h2>
            <span className={`subtitle${typing.length ? ' typing' : ''}`} aria-live="polite">
              {subtitle}
            </span>
          </div>
          {c.disappearingSeconds > 0 && (
            <span className="conv-time" title={`Messages disappear after ${durationText(c.disappearingSeconds)}`}>
              <IconClock width={16} height={16} aria-hidden="true" /> <span>{durationText(c.disappearingSeconds)}</span>
            </span>
          )}
          <button type="button" className="icon-btn" aria-label="Conversation info" aria-expanded={infoOpen} aria-pressed={infoOpen} onClick={() => setInfoOpen((x) => !x)}>
            <IconInfo />
          </button>
        </header>
        <PinnedBar conversationId={c.id} pins={pins} byId={byId} canPin={canPin} onJump={(id, seq) => void jump(id, seq)} reload={reloadPins} />
        <div className="timeline" ref={scroller} onScroll={onScroll} role="log" aria-labelledby="conv-title" tabIndex={0}>
          <div className="timeline-top">
            {hasOlder ? (
              olderError ? (
                <button type="button" className="btn btn-small" onClick={() => void loadOlder()}>
                  Couldn’t load earlier messages. Retry
                </button>
              ) : (
                <div className="spinner" aria-label="Loading earlier messages" />
              )
            ) : (
              visible.length > 0 && <span>{c.type === 'group' ? 'This is the start of the group.' : 'This is the start of your conversation.'}</span>
            )}
          </div>
          {visible.length === 0 && !hasOlder && (
            <div className="empty">
              <Avatar id={conversationAvatarId(c, me.id)} name={name} size="l" />
              <p>
                {c.type === 'group' ? `Say hello to ${name}.` : `Say hello to ${name}.`}
                {c.disappearingSeconds > 0 && ` Messages disappear after ${durationText(c.disappearingSeconds)}.`}
              </p>
            </div>
          )}
          {visible.map((m, i) => {
            const prev = visible[i - 1];
            const next = visible[i + 1];
            const newDay = !prev || dayKey(prev.createdAt) !== dayKey(m.createdAt);
            const sameAs = (o: MessageView | undefined) =>
              !!o && o.kind === 'message' && m.kind === 'message' && o.senderId === m.senderId && Math.abs(Date.parse(o.createdAt) - Date.parse(m.createdAt)) < GROUP_WINDOW_MS && dayKey(o.createdAt) === dayKey(m.createdAt);
            return (
              <div key={m.key} className="timeline-item" data-key={m.key}>
                {newDay && (
                  <div className="day-sep" role="separator" aria-label={formatDay(m.createdAt)}>
                    {formatDay(m.createdAt)}
                  </div>
                )}
                {m.kind === 'system' ? (
                  <div className="system-note">{systemText(m, me.id, dir)}</div>
                ) : (
                  <Message
                    m={m}
                    mine={m.senderId === me.id}
                    group={c.type === 'group'}
                    groupedPrev={!newDay && sameAs(prev)}
                    groupedNext={sameAs(next)}
                    canUnsend={m.senderId === me.id || (c.type === 'group' && isAdmin)}
                    quoted={m.replyTo ? byId.get(m.replyTo) : undefined}
                    onReply={(x) => {
                      setEditing(null);
                      setReplyTo(x);
                    }}
                    onEdit={(x) => {
                      setReplyTo(null);
                      setEditing(x);
                    }}
                    onJump={(id) => void jump(id)}
                    pinned={!!m.id && pinnedIds.has(m.id)}
                    canPin={canPin}
                    onPin={togglePin}
                  />
                )}
              </div>
            );
          })}
        </div>
        <div className="typing-line" aria-hidden="true">
          {typing.length > 0 && (
            <>
              <span className="typing-dots">
                <i />
                <i />
                <i />
              </span>
              {typing.map((id) => dir.name(id)).join(', ')} {typing.length > 1 ? 'are' : 'is'} typing…
            </>
          )}
        </div>
        {c.myState === 'request' ? (
          <RequestBar c={c} name={name} other={other} />
        ) : c.myState === 'declined' ? (
          <p className="notice">You declined this request.</p>
        ) : (
          <>
            {theirState === 'request' && <p className="notice">Your message request is waiting. {name} will see your messages once they accept.</p>}
            <Composer conversation={c} replyTo={replyTo} editing={editing} onClearContext={() => (setReplyTo(null), setEditing(null))} onEditLast={editLast} />
          </>
        )}
      </div>
      {infoOpen && <ConversationInfo c={c} onClose={() => setInfoOpen(false)} />}
    </div>
  );
}

/** Where an item's message (not its day separator, which may come and go) sits below the scroller's top edge. */
function offsetIn(scroller: HTMLElement, item: HTMLElement): number {
  const target = item.lastElementChild ?? item;
  return target.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
}

/**
 * After React has rendered what the store just announced (it does so in a microtask): a
 * task, not an animation frame, which a browser may hold back for a page it is not painting.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function RequestBar({ c, name, other }: { c: Conversation; name: string; other: string | null }) {
  const { client, toast } = useApp();
  const [busy, setBusy] = useState(false);
  const act = async (fn: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    try {
      await fn();
      after?.();
    } catch (err) {
      toast(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="request-bar" role="region" aria-label="Message request">
      <p>
        <strong>{name}</strong> {c.type === 'group' ? 'added you to this group.' : 'wants to send you messages.'} They won’t know you’ve seen this until you accept.
      </p>
      <div className="actions">
        <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void act(async () => client.store.upsertConversation(await client.conversations.accept(c.id)))}>
          Accept
        </button>
        <button type="button" className="btn" disabled={busy} onClick={() => void act(() => client.conversations.decline(c.id), () => (client.store.removeConversation(c.id), navigate({ name: 'requests' })))}>
          Decline
        </button>
        {other && (
          <button
            type="button"
            className="btn btn-danger"
            disabled={busy}
            onClick={() =>
              void act(
                async () => {
                  await client.blocks.add(other);
                  await client.conversations.decline(c.id).catch(() => undefined);
                },
                () => {
                  client.store.removeConversation(c.id);
                  toast(`${name} is blocked.`);
                  navigate({ name: 'requests' });
                },
              )
            }
          >
            Block
          </button>
        )}
      </div>
    </div>
  );
}
