import type { FastifyBaseLogger } from 'fastify';
import { PUBLISHED, type Bus } from '../../bus/bus.ts';
import type { DomainEvent } from '../../bus/events.ts';
import { flat } from '../../ids.ts';

/**
 * Events travel on per-user topics: a process subscribes to the topic of each user who has
 * a socket on it, and nothing else, so a process only receives what its own sockets need.
 * The topic names the recipient; the gateway delivers to that user's devices.
 */
export const userTopic = (userId: string) => flat(`user:${userId}`);

/**
 * An event for many users (a message in a big group) goes out once, on the topic every
 * process subscribes to, with its recipient list; each process delivers to the recipients
 * it holds. Past this many recipients, one copy per process costs less than one per user.
 */
export const FANOUT_TOPIC = 'fanout';
export const FANOUT_THRESHOLD = 32;

/** The users an event is for. */
export function recipientsOf(event: DomainEvent): string[] {
  switch (event.type) {
    case 'session.revoked':
      return [event.userId];
    case 'message':
    case 'conversation.changed':
    case 'conversation.removed':
    case 'marker':
    case 'typing':
    case 'presence':
    case 'user.changed':
      return event.recipientIds;
    default: {
      const never: never = event;
      throw new Error(`unrouted event ${(never as DomainEvent).type}`);
    }
  }
}

/** Each user's topic name, kept: a fan-out names the same recipients' topics message after message. */
const topics = new Map<string, string>();
const TOPICS_KEPT = 100_000;

function topicOf(userId: string): string {
  let topic = topics.get(userId);
  if (topic === undefined) {
    if (topics.size >= TOPICS_KEPT) topics.clear();
    topics.set(userId, (topic = userTopic(userId)));
  }
  return topic;
}

/** Up to this many ids, `unique` compares them pairwise: cheaper than building a Set. */
const PAIRWISE_MAX = 16;

/** The ids once each, in order; the array itself when it has no repeats (the usual case: a conversation's members). */
function unique(ids: string[]): string[] {
  const n = ids.length;
  if (n < 2) return ids;
  if (n <= PAIRWISE_MAX) {
    let repeats = false;
    for (let i = 1; i < n && !repeats; i++) for (let j = 0; j < i; j++) if (ids[i] === ids[j]) repeats = true;
    return repeats ? [...new Set(ids)] : ids;
  }
  const seen = new Set(ids);
  return seen.size === n ? ids : [...seen];
}

/**
 * Publish a committed event for its recipients: on each one's topic, or once on the fan-out
 * topic when there are many. On a user topic the copy drops the recipient list (the topic
 * names the recipient), or a group message would carry its member list once per member.
 * One object goes to every topic, so the bus and the gateway serialize it once.
 */
export function publishEvent(bus: Bus, event: DomainEvent, log: FastifyBaseLogger): void {
  const recipients = unique(recipientsOf(event));
  if (recipients.length === 0) return;
  // Publishing never fails the write that was already committed: clients resync by seq.
  const failed = (err: unknown) => log.warn({ err, type: event.type }, 'bus publish failed');
  if ('recipientIds' in event && recipients.length >= FANOUT_THRESHOLD) {
    const p = bus.publish(FANOUT_TOPIC, { ...event, recipientIds: recipients });
    if (p !== PUBLISHED) p.catch(failed);
    return;
  }
  const wire: DomainEvent = 'recipientIds' in event ? { ...event, recipientIds: [] } : event;
  for (const userId of recipients) {
    const p = bus.publish(topicOf(userId), wire);
    if (p !== PUBLISHED) p.catch(failed);
  }
}
