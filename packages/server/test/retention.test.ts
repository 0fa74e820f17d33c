import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { DomainEvent } from '../src/bus/events.ts';
import { userTopic } from '../src/modules/realtime/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import { WsClient } from './realtime-client.ts';

type User = Awaited<ReturnType<TestServer['api']['signUp']>>;

let clientIds = 0;
const text = (s: string, attachmentIds?: string[]) => ({
  clientId: `ret-${clientIds++}`,
  kind: 'message',
  content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: s }) },
  ...(attachmentIds ? { attachmentIds } : {}),
});

for (const dialect of DIALECTS) {
  describe(`disappearing messages: the retention sweeper [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect, { retentionSweepIntervalMs: 50 });
    });
    afterAll(async () => t?.close());

    async function send(user: User, conversationId: string, body: Record<string, unknown>): Promise<{ id: string; seq: number }> {
      const res = await t.api.post(`/v1/conversations/${conversationId}/messages`, body, user.token);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body;
    }

    async function uploadText(user: User, body: string): Promise<string> {
      const res = await fetch(`${t.url}/v1/attachments`, { method: 'POST', headers: { authorization: `Bearer ${user.token}`, 'content-type': 'text/plain' }, body });
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    }

    async function group(owner: User, members: User[], title: string): Promise<string> {
      for (const m of members) await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, m.token);
      const res = await t.api.post('/v1/conversations', { type: 'group', title, memberIds: members.map((m) => m.id) }, owner.token);
      expect(res.status).toBe(201);
      return res.body.id;
    }

    const blobExists = (id: string) => {
      const root = path.join(t.config.dataDir, 'blobs');
      return existsSync(root) && readdirSync(root, { recursive: true }).some((f) => String(f).endsWith(id));
    };
    const rowsOf = async (ids: string[]) => (await t.server.ctx.db.selectFrom('messages').select('id').where('id', 'in', ids).execute()).map((r) => r.id).sort();

    async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
      const deadline = Date.now() + 15_000;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    it('erases expired envelopes from the database and from history, with their edits, reactions, pins and attachments', async () => {
      const owner = await t.api.signUp('ro');
      const member = await t.api.signUp('rm');
      const c = await group(owner, [member], 'vanishing');
      const keep = await group(owner, [member], 'keeps');
      const before = await send(owner, c, text('before the timer'));
      const timer = await t.api.patch(`/v1/conversations/${c}`, { disappearingSeconds: 300 }, owner.token);
      expect(timer.status).toBe(200);
      expect(timer.body.disappearingSeconds).toBe(300);

      const photo = await uploadText(owner, 'only here');
      const shared = await uploadText(owner, 'also forwarded');
      const m1 = await send(owner, c, text('one', [photo]));
      const m2 = await send(owner, c, text('two', [shared]));
      const edit = await send(owner, c, { clientId: `e-${clientIds++}`, kind: 'edit', refs: { target: m1.id }, content: { encoding: 'plain', data: '{"type":"edit","text":"one, edited"}' } });
      const reaction = await send(member, c, { clientId: `r-${clientIds++}`, kind: 'reaction', refs: { target: m1.id }, content: { encoding: 'plain', data: '{"type":"reaction","emoji":"👍","on":true}' } });
      const m3 = await send(member, c, text('three, not yet due'));
      const forwarded = await send(owner, keep, text('forwarded', [shared]));
      expect((await t.api.post(`/v1/conversations/${c}/pins`, { messageId: m1.id }, owner.token)).status).toBe(201);

      const all = (await t.api.get(`/v1/conversations/${c}/messages?after=0&limit=200`, member.token)).body.messages as any[];
      expect(all.find((m) => m.id === m1.id).expiresAt).toBeDefined();
      expect(all.find((m) => m.id === before.id).expiresAt).toBeUndefined();
      const pinNotice = all.find((m) => m.kind === 'system' && m.refs.target === m1.id);
      expect(pinNotice).toBeDefined();

      const heard: DomainEvent[] = [];
      const unsubscribe = await t.server.ctx.bus.subscribe(userTopic(member.id), (e) => heard.push(e));
      const { client } = await WsClient.connect(t.wsUrl, member.token);
      client.frames.length = 0;

      // Five minutes pass for m1 and m2, as far as the database knows.
      await t.server.ctx.db.updateTable('messages').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', 'in', [m1.id, m2.id]).execute();
      await until('the expired envelopes are erased', async () => (await rowsOf([m1.id, m2.id])).length === 0);
      await until('members are told', async () => heard.some((e) => e.type === 'conversation.changed' && e.conversationId === c));
      await unsubscribe();
      // Connected clients hear of it, and refresh.
      await client.next('conversation', (f) => f.conversation.id === c);
      client.ws.close();

      // Gone from the database: the envelopes, what aimed at them, the pin and the lone attachment.
      expect(await rowsOf([m1.id, m2.id, edit.id, reaction.id, pinNotice.id])).toEqual([]);
      expect(await rowsOf([before.id, m3.id, forwarded.id])).toEqual([before.id, m3.id, forwarded.id].sort());
      expect(await t.server.ctx.db.selectFrom('pinned_messages').selectAll().where('conversation_id', '=', c).execute()).toEqual([]);
      expect(await t.server.ctx.db.selectFrom('attachment_refs').selectAll().where('conversation_id', '=', c).execute()).toEqual([]);
      expect(await t.server.ctx.db.selectFrom('attachments').select('id').where('id', '=', photo).executeTakeFirst()).toBeUndefined();
      expect(blobExists(photo)).toBe(false);
      // An attachment another conversation still lists stays, for its members.
      expect(blobExists(shared)).toBe(true);
      expect((await fetch(`${t.url}/v1/attachments/${shared}`, { headers: { authorization: `Bearer ${member.token}` } })).status).toBe(200);
      expect((await fetch(`${t.url}/v1/attachments/${photo}`, { headers: { authorization: `Bearer ${owner.token}` } })).status).toBe(404);

      // Gone from history; what remains keeps its seq, so a client sees the hole as a gap it can ask about.
      const after = (await t.api.get(`/v1/conversations/${c}/messages?after=0&limit=200`, member.token)).body.messages as any[];
      const ids = after.map((m) => m.id);
      for (const gone of [m1.id, m2.id, edit.id, reaction.id, pinNotice.id]) expect(ids).not.toContain(gone);
      expect(ids).toContain(m3.id);
      expect(after.find((m) => m.id === m3.id).seq).toBe(m3.seq);
      const page = (await t.api.get(`/v1/conversations/${c}/messages?after=${m1.seq - 1}&limit=1`, member.token)).body.messages as any[];
      expect(page.map((m) => m.id)).toEqual([m3.id]);
      expect((await t.api.get(`/v1/conversations/${c}/pins`, member.token)).body.pins).toEqual([]);

      // New messages still get fresh seqs: nothing is reused.
      const next = await send(owner, c, text('later'));
      expect(next.seq).toBeGreaterThan(Math.max(...after.map((m) => m.seq)));
    });

    it('works through more expired envelopes than one batch holds', async () => {
      const a = await t.api.signUp('rbulk');
      const b = await t.api.signUp('rbulk');
      const c = await group(a, [b], 'bulk');
      const last = await send(a, c, text('last one standing'));
      // A backlog, as after a server was down for a while: written straight into the log.
      const db = t.server.ctx.db;
      const past = new Date(Date.now() - 60_000).toISOString();
      const count = 1234;
      await db.transaction().execute(async (trx) => {
        const { last_seq } = await trx.selectFrom('conversations').select('last_seq').where('id', '=', c).executeTakeFirstOrThrow();
        for (let i = 0; i < count; i += 200) {
          const rows = Array.from({ length: Math.min(200, count - i) }, (_, k) => {
            const n = i + k;
            return { id: `bulk-${c}-${n}`, conversation_id: c, seq: last_seq + 1 + n, sender_id: a.id, sender_device_id: a.sessionId, client_id: `bulk-${c}-${n}`, kind: 'message', ref_target: null, ref_reply_to: null, encoding: 'plain', data: '{}', attachment_ids: '[]', created_at: past, edited_at: null, deleted_at: null, expires_at: past };
          });
          await trx.insertInto('messages').values(rows).execute();
        }
        await trx.updateTable('conversations').set({ last_seq: last_seq + count }).where('id', '=', c).execute();
      });
      await until('the backlog is erased', async () => {
        const { n } = await db.selectFrom('messages').select((eb) => eb.fn.countAll<number | string>().as('n')).where('conversation_id', '=', c).executeTakeFirstOrThrow();
        return Number(n) === 1;
      });
      expect(await rowsOf([last.id])).toEqual([last.id]);
      expect((await send(b, c, text('after the backlog'))).seq).toBe(last.seq + count + 1);
    });

    it('leaves envelopes that are not due, and conversations without a timer, alone', async () => {
      const a = await t.api.signUp('rn');
      const b = await t.api.signUp('rq');
      const c = await group(a, [b], 'slow');
      expect((await t.api.patch(`/v1/conversations/${c}`, { disappearingSeconds: 3600 }, a.token)).status).toBe(200);
      const due = await send(a, c, text('due'));
      const notDue = await send(a, c, text('not due'));
      const plain = await group(a, [b], 'plain');
      const kept = await send(a, plain, text('kept'));
      await t.server.ctx.db.updateTable('messages').set({ expires_at: new Date(Date.now() - 1).toISOString() }).where('id', '=', due.id).execute();
      await until('the due envelope is erased', async () => (await rowsOf([due.id])).length === 0);
      expect(await rowsOf([notDue.id, kept.id])).toEqual([notDue.id, kept.id].sort());
    });
  });
}
