/**
 * `toEnvelope` reads the clock only for an envelope that expires: one whose time has come
 * loses its payload and attachments (as the sweeper would erase them), whether the caller
 * gives "now" or not, and one that never expires is left as it is.
 */
import { describe, expect, it } from 'vitest';
import type { MessageRow } from '../../storage/db.ts';
import { toEnvelope } from './envelope-log.ts';

const row = (extra: Partial<MessageRow> = {}): MessageRow => ({
  id: '0192f0a0-0000-7000-8000-00000000a001',
  conversation_id: 'c',
  seq: 1,
  sender_id: 'a',
  sender_device_id: 'd',
  client_id: 'k',
  kind: 'message',
  ref_target: null,
  ref_reply_to: null,
  encoding: 'plain',
  data: 'hello',
  attachment_ids: '["f1"]',
  created_at: '2026-12-01T20:00:00.000Z',
  edited_at: null,
  deleted_at: null,
  expires_at: null,
  ...extra,
});

const past = new Date(Date.now() - 60_000).toISOString();
const future = new Date(Date.now() + 3_600_000).toISOString();

describe('toEnvelope', () => {
  it('keeps the payload of an envelope that never expires', () => {
    const env = toEnvelope(row());
    expect(env.content).toEqual({ encoding: 'plain', data: 'hello' });
    expect(env.attachmentIds).toEqual(['f1']);
    expect(env).not.toHaveProperty('expiresAt');
  });

  it('drops the payload of an envelope past its time, by the clock when no "now" is given', () => {
    const env = toEnvelope(row({ expires_at: past }));
    expect(env.content).toBeNull();
    expect(env.attachmentIds).toEqual([]);
    expect(env.expiresAt).toBe(past);
  });

  it('keeps the payload of an envelope not yet expired', () => {
    const env = toEnvelope(row({ expires_at: future }));
    expect(env.content).toEqual({ encoding: 'plain', data: 'hello' });
    expect(env.expiresAt).toBe(future);
  });

  it('judges by the "now" it is given, expiring exactly at it', () => {
    expect(toEnvelope(row({ expires_at: '2026-12-01T22:00:00.000Z' }), '2026-12-01T22:00:00.000Z').content).toBeNull();
    expect(toEnvelope(row({ expires_at: '2026-12-01T22:00:00.001Z' }), '2026-12-01T22:00:00.000Z').content).not.toBeNull();
  });
});
