import { History, SyncResult, type Conversation, type Envelope } from '@parley/protocol';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { forSerializer, precompile, serializerCompiler } from './serializers.ts';

const zodWrites = (schema: typeof History | typeof SyncResult) => zodSerializerCompiler({ schema, method: 'GET', url: '/test' } as Parameters<typeof zodSerializerCompiler>[0]);

const envelope = (seq: number, extra: Partial<Envelope> = {}): Envelope => ({
  id: `m${seq}`,
  conversationId: 'c1',
  seq,
  senderId: 'u1',
  senderDeviceId: 's1',
  clientId: `client-${seq}`,
  kind: 'message',
  refs: {},
  content: { encoding: 'plain', data: JSON.stringify({ type: 'text', text: `"quoted" \\ back\u2028slash, ünï, 🙂 ${seq}` }) },
  attachmentIds: [],
  createdAt: '2026-12-01T10:00:00.000Z',
  ...extra,
});

const ENVELOPES: Envelope[] = [
  envelope(1),
  envelope(2, { kind: 'edit', refs: { target: 'm1' }, content: { encoding: 'mls', data: 'AAEC/w==' } }),
  envelope(3, { refs: { replyTo: 'm1', target: 'm2' }, attachmentIds: ['a1', 'a2'], editedAt: '2026-12-01T10:01:00.000Z' }),
  envelope(4, { content: null, deletedAt: '2026-12-01T10:02:00.000Z' }),
  envelope(5, { content: null, expiresAt: '2026-12-01T09:00:00.000Z' }),
  envelope(6, { kind: 'system', content: { encoding: 'plain', data: '' } }),
];

const conversation = (id: string, extra: Partial<Conversation> = {}): Conversation => ({
  id,
  type: 'group',
  title: 'A "title"',
  description: '',
  avatarAttachmentId: null,
  infoEditableBy: 'admins',
  members: [
    { userId: 'u1', role: 'owner', state: 'active' },
    { userId: 'u2', role: 'member', state: 'request' },
  ],
  myState: 'active',
  lastSeq: 12,
  unreadCount: 3,
  muted: false,
  mutedUntil: null,
  archived: false,
  pinned: true,
  disappearingSeconds: 0,
  createdAt: '2026-12-01T10:00:00.000Z',
  updatedAt: '2026-12-01T10:00:00.000Z',
  ...extra,
});

describe('precompiled response serializers', () => {
  it('write a history page byte for byte as zod did, every kind of envelope included', () => {
    const page = { messages: ENVELOPES };
    expect(precompile(History)(page)).toBe(zodWrites(History)(page));
    expect(JSON.parse(precompile(History)(page))).toEqual(page);
    expect(precompile(History)({ messages: [] })).toBe('{"messages":[]}');
  });

  it('write a sync answer byte for byte as zod did', () => {
    const answer = {
      cursor: 'opaque-cursor',
      conversations: [
        conversation('c1'),
        conversation('c2', { type: 'direct', title: null, infoEditableBy: 'members', muted: true, mutedUntil: '2026-12-02T00:00:00.000Z', avatarAttachmentId: 'a9', myState: 'declined' }),
      ],
      removed: ['c3'],
    };
    expect(precompile(SyncResult)(answer)).toBe(zodWrites(SyncResult)(answer));
  });

  it('never writes a field the schema does not declare', () => {
    const leaky = { messages: [{ ...envelope(1), passwordHash: 'secret', refs: { target: 'm0', extra: 1 } }], internal: true };
    const written = precompile(History)(leaky);
    expect(written).not.toContain('secret');
    expect(written).not.toContain('internal');
    expect(written).not.toContain('extra');
  });

  it('leave every other response to zod', () => {
    const route = { schema: SyncResult.shape.removed, method: 'GET', url: '/other' } as unknown as Parameters<typeof serializerCompiler>[0];
    expect(() => serializerCompiler(route)(['ok'])).not.toThrow();
    expect(() => serializerCompiler(route)([42])).toThrow();
  });

  it('keep field names that look like keywords, and drop only validation keywords', () => {
    const schema = { type: 'object', properties: { pattern: { type: 'string', pattern: '^a' }, n: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] } } };
    expect(forSerializer(schema)).toEqual({ type: 'object', properties: { pattern: { type: 'string' }, n: { type: ['integer', 'null'] } } });
  });
});
