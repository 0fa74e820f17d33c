import { describe, expect, it } from 'vitest';
import type { Conversation, Envelope, PlainContent } from '@parley/protocol';
import { plainCodec } from './codec.ts';
import { Store } from './store.ts';

const ME = 'me';
const conv = (type: 'direct' | 'group', members: string[]): Conversation => ({
  id: 'c1',
  type,
  title: type === 'group' ? 'G' : null,
  description: '',
  avatarAttachmentId: null,
  infoEditableBy: type === 'group' ? 'admins' : 'members',
  members: members.map((userId) => ({ userId, role: userId === ME ? 'owner' : 'member', state: 'active' })),
  myState: 'active',
  lastSeq: 0,
  unreadCount: 0,
  muted: false,
  mutedUntil: null,
  archived: false,
  pinned: false,
  disappearingSeconds: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

let seq = 0;
function env(senderId: string, kind: Envelope['kind'], content: PlainContent | null, refs: Envelope['refs'] = {}): { envelope: Envelope; plain: PlainContent | null; unreadable: boolean } {
  seq += 1;
  const envelope: Envelope = {
    id: `m${seq}`,
    conversationId: 'c1',
    seq,
    senderId,
    senderDeviceId: `${senderId}-device`,
    clientId: `client-${seq}`,
    kind,
    refs,
    content: content ? (plainCodec.encode('c1', content) as Envelope['content']) : null,
    attachmentIds: [],
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
  };
  return { envelope, plain: content, unreadable: false };
}

function fresh(type: 'direct' | 'group', members = [ME, 'bob', 'carol']) {
  seq = 0;
  const store = new Store();
  store.setMe(ME);
  store.upsertConversation(conv(type, members));
  return store;
}

describe('Store folding', () => {
  it('applies only the author’s edits, keeping the history of texts', () => {
    const store = fresh('group');
    const m = env('bob', 'message', { type: 'text', text: 'v1' });
    store.apply('c1', [m]);
    store.apply('c1', [env('carol', 'edit', { type: 'edit', text: 'not yours' }, { target: m.envelope.id })]);
    store.apply('c1', [env('bob', 'edit', { type: 'edit', text: 'v2' }, { target: m.envelope.id })]);
    store.apply('c1', [env('bob', 'edit', { type: 'edit', text: 'v3' }, { target: m.envelope.id })]);
    const [view] = store.getMessages('c1');
    expect(view).toMatchObject({ text: 'v3', edited: true, content: { type: 'text', text: 'v3' } });
    expect(view!.history.map((h) => h.text)).toEqual(['v1', 'v2']);
  });

  it('counts reactions per emoji and user, toggled off again, and marks mine', () => {
    const store = fresh('group');
    const m = env('bob', 'message', { type: 'text', text: 'hi' });
    const react = (who: string, emoji: string, on: boolean) => env(who, 'reaction', { type: 'reaction', emoji, on }, { target: m.envelope.id });
    store.apply('c1', [m, react(ME, '👍', true), react('carol', '👍', true), react('carol', '👍', true), react('bob', '❤️', true), react('bob', '❤️', false)]);
    expect(store.getMessages('c1')[0]!.reactions).toEqual([{ emoji: '👍', count: 2, userIds: [ME, 'carol'], mine: true }]);
  });

  it('an unsend erases the content, the edits and the reactions', () => {
    const store = fresh('direct', [ME, 'bob']);
    const m = env('bob', 'message', { type: 'text', text: 'oops' });
    store.apply('c1', [m, env('bob', 'edit', { type: 'edit', text: 'oops!' }, { target: m.envelope.id }), env(ME, 'reaction', { type: 'reaction', emoji: '😂', on: true }, { target: m.envelope.id })]);
    store.apply('c1', [env('bob', 'delete', null, { target: m.envelope.id })]);
    expect(store.getMessages('c1')).toEqual([expect.objectContaining({ id: m.envelope.id, deleted: true, text: null, content: null, history: [], reactions: [] })]);
  });

  it('folds out of arrival order by seq, and a refetched copy replaces the old one', () => {
    const store = fresh('direct', [ME, 'bob']);
    const m = env('bob', 'message', { type: 'text', text: 'first' });
    const edit = env('bob', 'edit', { type: 'edit', text: 'edited' }, { target: m.envelope.id });
    store.apply('c1', [edit]);
    store.apply('c1', [m]);
    expect(store.getMessages('c1')[0]!.text).toBe('edited');
    // The server erased it (unsent): its copy says so.
    store.apply('c1', [{ envelope: { ...m.envelope, content: null, deletedAt: new Date().toISOString() }, plain: null, unreadable: false }]);
    expect(store.getMessages('c1')[0]).toMatchObject({ deleted: true, text: null });
  });

  it('hides people I blocked in groups (messages and reactions), not in direct conversations', () => {
    const group = fresh('group');
    const m = env(ME, 'message', { type: 'text', text: 'mine' });
    group.apply('c1', [m, env('bob', 'message', { type: 'text', text: 'from bob' }), env('bob', 'reaction', { type: 'reaction', emoji: '👍', on: true }, { target: m.envelope.id })]);
    group.setBlocked(['bob']);
    expect(group.getMessages('c1').map((v) => v.text)).toEqual(['mine']);
    expect(group.getMessages('c1')[0]!.reactions).toEqual([]);
    group.setBlockedOne('bob', false);
    expect(group.getMessages('c1').map((v) => v.text)).toEqual(['mine', 'from bob']);

    const direct = fresh('direct', [ME, 'bob']);
    direct.apply('c1', [env('bob', 'message', { type: 'text', text: 'before the block' })]);
    direct.setBlocked(['bob']);
    expect(direct.getMessages('c1').map((v) => v.text)).toEqual(['before the block']);
  });

  it('derives my message status from every other member’s markers; pending entries give way to their envelope', () => {
    const store = fresh('group');
    store.setPending([{ clientId: 'client-1', conversationId: 'c1', kind: 'message', content: { type: 'text', text: 'hello' }, state: 'pending', attempts: 0, createdAt: new Date().toISOString() }]);
    expect(store.getMessages('c1')).toEqual([expect.objectContaining({ key: 'client-1', id: null, status: 'pending', text: 'hello' })]);
    const m = env(ME, 'message', { type: 'text', text: 'hello' });
    store.apply('c1', [m]);
    expect(store.getMessages('c1')).toEqual([expect.objectContaining({ key: 'client-1', id: m.envelope.id, status: 'sent' })]);
    store.applyMarker('c1', 'bob', 'delivered', m.envelope.seq);
    expect(store.getMessages('c1')[0]!.status).toBe('sent');
    store.applyMarker('c1', 'carol', 'read', m.envelope.seq);
    expect(store.getMessages('c1')[0]!.status).toBe('delivered');
    store.applyMarker('c1', 'bob', 'read', m.envelope.seq);
    expect(store.getMessages('c1')[0]!.status).toBe('read');
    // Markers never move back.
    store.applyMarker('c1', 'bob', 'read', 0);
    expect(store.getMessages('c1')[0]!.status).toBe('read');
  });

  it('counts unread messages from others and clears them when I read', () => {
    const store = fresh('direct', [ME, 'bob']);
    store.apply('c1', [env('bob', 'message', { type: 'text', text: '1' }), env('bob', 'message', { type: 'text', text: '2' }), env(ME, 'message', { type: 'text', text: '3' })]);
    expect(store.getConversation('c1')).toMatchObject({ lastSeq: 3, unreadCount: 2 });
    store.applyMarker('c1', ME, 'read', 3);
    expect(store.getConversation('c1')!.unreadCount).toBe(0);
  });

  it('keeps snapshots and timelines identical until something changes, and batches notifications', async () => {
    const store = fresh('direct', [ME, 'bob']);
    let calls = 0;
    store.subscribe(() => calls++);
    const snap = store.getSnapshot();
    const list = store.getMessages('c1');
    expect(store.getSnapshot()).toBe(snap);
    expect(store.getMessages('c1')).toBe(list);
    store.apply('c1', [env('bob', 'message', { type: 'text', text: 'a' })]);
    store.apply('c1', [env('bob', 'message', { type: 'text', text: 'b' })]);
    expect(store.getSnapshot()).not.toBe(snap);
    expect(store.getMessages('c1')).not.toBe(list);
    await Promise.resolve();
    expect(calls).toBe(1);
  });
});

describe('Store: issue 4 additions', () => {
  it('keeps every version of an edited text with the time each was written', () => {
    const store = fresh('direct', [ME, 'bob']);
    const m = env('bob', 'message', { type: 'text', text: 'v1' });
    const e1 = env('bob', 'edit', { type: 'edit', text: 'v2' }, { target: m.envelope.id });
    const e2 = env('bob', 'edit', { type: 'edit', text: 'v3' }, { target: m.envelope.id });
    store.apply('c1', [m, e1, e2]);
    expect(store.editHistory(m.envelope.id)).toEqual([
      { text: 'v1', at: m.envelope.createdAt },
      { text: 'v2', at: e1.envelope.createdAt },
      { text: 'v3', at: e2.envelope.createdAt },
    ]);
    expect(store.editHistory('unknown')).toEqual([]);
  });

  it('drops envelopes past expiresAt on arrival and when their time comes, and ends mutes', () => {
    const store = fresh('direct', [ME, 'bob']);
    const now = Date.now();
    const gone = env('bob', 'message', { type: 'text', text: 'gone' });
    gone.envelope.expiresAt = new Date(now - 1).toISOString();
    const later = env('bob', 'message', { type: 'text', text: 'later' });
    later.envelope.expiresAt = new Date(now + 60_000).toISOString();
    const kept = env('bob', 'message', { type: 'text', text: 'kept' });
    store.apply('c1', [gone, later, kept]);
    expect(store.getMessages('c1').map((m) => m.text)).toEqual(['later', 'kept']);
    store.upsertConversation({ ...store.getConversation('c1')!, muted: true, mutedUntil: new Date(now + 120_000).toISOString() });
    // The next thing to expire is the message, then the mute.
    expect(store.expire(now)).toBe(now + 60_000);
    expect(store.expire(now + 60_000)).toBe(now + 120_000);
    expect(store.getMessages('c1').map((m) => m.text)).toEqual(['kept']);
    expect(store.expire(now + 120_000)).toBeNull();
    expect(store.getConversation('c1')).toMatchObject({ muted: false, mutedUntil: null });
  });

  it('a message from someone else un-archives, unless muted; pinned first in the inbox', () => {
    const store = fresh('direct', [ME, 'bob']);
    store.upsertConversation({ ...store.getConversation('c1')!, archived: true, muted: true, mutedUntil: null });
    store.apply('c1', [env('bob', 'message', { type: 'text', text: 'muted: stays archived' })]);
    expect(store.getSnapshot().archived.map((c) => c.id)).toEqual(['c1']);
    store.upsertConversation({ ...store.getConversation('c1')!, muted: false });
    store.apply('c1', [env(ME, 'message', { type: 'text', text: 'mine: stays archived' })]);
    expect(store.getConversation('c1')!.archived).toBe(true);
    store.apply('c1', [env('bob', 'message', { type: 'text', text: 'back' })]);
    expect(store.getSnapshot().inbox.map((c) => c.id)).toEqual(['c1']);

    store.upsertConversation({ ...conv('group', [ME]), id: 'old-pinned', pinned: true, updatedAt: '2020-01-01T00:00:00.000Z' });
    expect(store.getSnapshot().inbox.map((c) => c.id)).toEqual(['old-pinned', 'c1']);
  });

  it('counts unread mentions of me, and marks attachments and forwards', () => {
    const store = fresh('group');
    store.upsertConversation({ ...store.getConversation('c1')!, unreadCount: 2, lastSeq: 2 });
    store.apply('c1', [
      env('bob', 'message', { type: 'text', text: '@me hi', mentions: [{ userId: ME, offset: 0, length: 3 }] }),
      env('carol', 'message', { type: 'text', text: 'fwd', forwarded: true, attachments: [{ id: 'a1', kind: 'voice', contentType: 'audio/ogg', size: 3, durationMs: 900 }] }),
    ]);
    expect(store.unreadMentions('c1')).toBe(1);
    const [, fwd] = store.getMessages('c1');
    expect(fwd).toMatchObject({ forwarded: true, attachments: [{ id: 'a1', kind: 'voice', durationMs: 900 }] });
    store.applyMarker('c1', ME, 'read', 2);
    expect(store.unreadMentions('c1')).toBe(0);
  });
});
