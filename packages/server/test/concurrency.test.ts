import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startTestServer, type TestServer } from './harness.ts';
import type { DomainEvent } from '../src/bus/events.ts';

type U = Awaited<ReturnType<TestServer['api']['signUp']>>;

const text = (t: string) => ({ encoding: 'plain', data: JSON.stringify({ type: 'text', text: t }) });

for (const dialect of DIALECTS) {
  describe(`concurrency [${dialect}]`, () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer(dialect);
    });
    afterAll(async () => t?.close());

    it('20 concurrent senders × 50 messages into one group: seqs exactly 1..1000, each ack matching history', { timeout: 120_000 }, async () => {
      const owner = await t.api.signUp('co');
      const senders: U[] = [];
      for (let i = 0; i < 19; i++) {
        const u = await t.api.signUp('cs');
        expect((await t.api.patch('/v1/me/privacy', { whoCanAddToGroups: 'everyone' }, u.token)).status).toBe(200);
        senders.push(u);
      }
      const created = await t.api.post('/v1/conversations', { type: 'group', title: 'Load', memberIds: senders.map((s) => s.id) }, owner.token);
      expect(created.body.notAdded).toEqual([]);
      const conv = created.body.id;
      senders.push(owner);
      const acks = new Map<string, { seq: number; sender: string; clientId: string }>();
      await Promise.all(
        senders.map(async (s, si) => {
          for (let k = 0; k < 50; k++) {
            const clientId = `${si}-${k}`;
            const res = await t.api.post(`/v1/conversations/${conv}/messages`, { clientId, kind: 'message', content: text(clientId) }, s.token);
            expect(res.status).toBe(201);
            acks.set(res.body.id, { seq: res.body.seq, sender: s.id, clientId });
          }
        }),
      );
      const seqs = [...acks.values()].map((a) => a.seq).sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      const history: any[] = [];
      for (let after = 0; ; ) {
        const page = (await t.api.get(`/v1/conversations/${conv}/messages?after=${after}&limit=200`, owner.token)).body.messages;
        if (page.length === 0) break;
        history.push(...page);
        after = page.at(-1).seq;
      }
      expect(history.map((m) => m.seq)).toEqual(seqs);
      for (const m of history) {
        const ack = acks.get(m.id)!;
        expect(ack.seq).toBe(m.seq);
        expect(m.senderId).toBe(ack.sender);
        expect(m.content).toEqual(text(ack.clientId));
      }
      // Each sender's messages are in the order that sender sent them.
      for (const s of senders) {
        const own = history.filter((m) => m.senderId === s.id).map((m) => Number(m.clientId.split('-')[1]));
        expect(own).toEqual([...own].sort((x, y) => x - y));
      }
      expect((await t.api.get(`/v1/conversations/${conv}`, owner.token)).body.lastSeq).toBe(1000);
    });

    it('message events of concurrent sends go out in seq order', { timeout: 60_000 }, async () => {
      const a = await t.api.signUp('eo');
      const b = await t.api.signUp('ep');
      await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
      const conv = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id;
      const seen: number[] = [];
      const emit = t.server.ctx.emit;
      t.server.ctx.emit = (e: DomainEvent) => {
        if (e.type === 'message' && e.conversationId === conv) seen.push(e.envelope.seq);
        emit(e);
      };
      try {
        await Promise.all(
          Array.from({ length: 40 }, (_, i) => t.api.post(`/v1/conversations/${conv}/messages`, { clientId: `o${i}`, kind: 'message', content: text('o') }, i % 2 ? a.token : b.token)),
        );
      } finally {
        t.server.ctx.emit = emit;
      }
      expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    });

    it('concurrent creates of one direct conversation yield one conversation', { timeout: 60_000 }, async () => {
      const a = await t.api.signUp('ca');
      const b = await t.api.signUp('cb');
      await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => t.api.post('/v1/conversations', { type: 'direct', userId: i % 2 ? a.id : b.id }, i % 2 ? b.token : a.token)),
      );
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(results.filter((r) => r.status === 200)).toHaveLength(11);
      const rows = await t.server.ctx.db.selectFrom('members').select('conversation_id').where('user_id', '=', a.id).execute();
      expect(rows).toHaveLength(1);
    });

    it('one failing send does not fail its batch-mates, and gives its seq back', { timeout: 60_000 }, async () => {
      const a = await t.api.signUp('cr');
      const b = await t.api.signUp('cq');
      const conv = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id;
      // Ten racing sends into an unanswered request: the cap is checked in the transaction.
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => t.api.post(`/v1/conversations/${conv}/messages`, { clientId: `r${i}`, kind: 'message', content: text(`r${i}`) }, a.token)),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(3);
      expect(results.filter((r) => r.status === 403 && r.body.error.code === 'request_pending')).toHaveLength(7);
      expect(results.filter((r) => r.status === 201).map((r) => r.body.seq).sort()).toEqual([1, 2, 3]);
      // The recipient replies: seq 4, no gap left by the refused ones.
      const reply = await t.api.post(`/v1/conversations/${conv}/messages`, { clientId: 'reply', kind: 'message', content: text('hi') }, b.token);
      expect(reply.body.seq).toBe(4);
    });

    it('concurrent retries racing new sends: one message per clientId, gap-free', { timeout: 60_000 }, async () => {
      const a = await t.api.signUp('ci');
      const b = await t.api.signUp('cj');
      await t.api.post(`/v1/connections/${b.id}`, {}, a.token);
      await t.api.post(`/v1/connections/${a.id}/accept`, {}, b.token);
      const conv = (await t.api.post('/v1/conversations', { type: 'direct', userId: b.id }, a.token)).body.id;
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => t.api.post(`/v1/conversations/${conv}/messages`, { clientId: `k${i % 15}`, kind: 'message', content: text(`k${i % 15}`) }, a.token)),
      );
      expect(results.every((r) => r.status === 200 || r.status === 201)).toBe(true);
      expect(results.filter((r) => r.status === 201)).toHaveLength(15);
      const byClient = new Map<string, Set<string>>();
      results.forEach((r, i) => {
        const key = `k${i % 15}`;
        if (!byClient.has(key)) byClient.set(key, new Set());
        byClient.get(key)!.add(r.body.id);
      });
      for (const ids of byClient.values()) expect(ids.size).toBe(1);
      const history = (await t.api.get(`/v1/conversations/${conv}/messages?limit=200`, a.token)).body.messages;
      expect(history.map((m: any) => m.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    });
  });
}
