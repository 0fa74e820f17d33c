/**
 * The load generator: a process of WebSocket clients (and HTTP clients for catch-up),
 * pinned to its own core and driven over IPC by bench/run.ts. The same code drives
 * Parley and the baselines; only the frame shapes differ (`protocol`).
 *
 * Every payload carries its sender, a sequence number and the time it was meant to be
 * sent, so latency is measured from the intended send time (an open-loop schedule that
 * falls behind shows up as latency, not as fewer samples).
 */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { Histogram } from '../lib/stats.ts';
import { serveCommands, sleep } from '../lib/proc.ts';
import { batchSize } from '../../packages/sdk/src/client.ts';
import { HttpClient, HttpStatusError } from './http-client.ts';
import { crossCheck, crossCheckBatchPage, PageScanError, scanBatch, scanSeqs } from './page-scan.ts';

type Protocol = 'parley' | 'bare';

interface Client {
  ws: WebSocket;
  token: string;
}

const clients: Client[] = [];
let protocol: Protocol = 'parley';
const runId = randomBytes(4).toString('hex');
/** What to do with a delivered payload; swapped by each workload. */
let onPayload: (receiver: number, data: string) => void = () => {};
let onAck: (sender: number, reqId: number) => void = () => {};
let errors = 0;
let firstError: string | undefined;

/** A text payload of about `PAD` characters, like a short chat message plus the SDK's JSON. */
const PAD = 'x'.repeat(80);

function handleFrame(index: number, raw: Buffer): void {
  const frame = JSON.parse(raw.toString()) as {
    type: string;
    data?: string;
    envelope?: { kind: string; content: { data: string } | null };
    reqId?: number;
    error?: { code: string; message: string };
  };
  switch (frame.type) {
    case 'message':
      // System envelopes (group created, members added) are not the workload's messages.
      if (frame.envelope?.kind === 'message' && frame.envelope.content) onPayload(index, frame.envelope.content.data);
      break;
    case 'send':
    case 'fanout':
      onPayload(index, frame.data!);
      break;
    case 'ack':
      onAck(index, frame.reqId!);
      break;
    case 'error':
      errors++;
      firstError ??= JSON.stringify(frame.error);
      break;
  }
}

function open(url: string, token: string, localAddress: string | undefined, index: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('socket did not become ready within 120 s'));
    }, 120_000);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'auth', token })));
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`socket closed before ready (${code})`));
    });
    const first = (raw: Buffer) => {
      const frame = JSON.parse(raw.toString()) as { type: string };
      if (frame.type !== 'ready') return;
      clearTimeout(timer);
      ws.off('message', first);
      ws.removeAllListeners('close');
      ws.removeAllListeners('error');
      ws.on('error', () => {});
      if (index >= 0) ws.on('message', (data: Buffer) => handleFrame(index, data));
      resolve({ ws, token });
    };
    ws.on('message', first);
  });
}

/**
 * Open and authenticate sockets, `concurrency` at a time. With `deadlineMs`, stop opening
 * new ones once it has passed (a slow server must not stretch a run without bound) and
 * report how many made it.
 */
async function connect(cmd: { url: string; protocol: Protocol; tokens: string[]; localAddresses?: string[]; concurrency?: number; deadlineMs?: number }) {
  protocol = cmd.protocol;
  const started = performance.now();
  const deadline = started + (cmd.deadlineMs ?? Number.POSITIVE_INFINITY);
  const base = clients.length;
  let next = 0;
  let connected = 0;
  const worker = async () => {
    while (next < cmd.tokens.length && performance.now() < deadline) {
      const i = next++;
      const addr = cmd.localAddresses?.length ? cmd.localAddresses[i % cmd.localAddresses.length] : undefined;
      clients[base + i] = await open(cmd.url, cmd.tokens[i]!, addr, base + i);
      connected++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency ?? 100, cmd.tokens.length) }, worker));
  return { connected, total: clients.length, ms: performance.now() - started };
}

/** Bare baseline only: tell the server which sockets form each group. */
async function join(cmd: { groups: { group: string; members: number[] }[] }) {
  for (const g of cmd.groups) for (const m of g.members) clients[m]!.ws.send(JSON.stringify({ type: 'join', group: g.group }));
  await sleep(500);
  return { joined: cmd.groups.length };
}

let clientSeq = 0;
function sendTo(sender: number, target: string, data: string, reqId = 0): void {
  const c = clients[sender]!;
  if (protocol === 'parley') {
    c.ws.send(JSON.stringify({ type: 'send', reqId, conversationId: target, clientId: `${runId}-${clientSeq++}`, kind: 'message', content: { encoding: 'plain', data } }));
  } else {
    c.ws.send(JSON.stringify({ type: target.startsWith('g:') ? 'fanout' : 'send', to: target, group: target, data }));
  }
}

const payload = (s: number, n: number, t: number) => `{"s":${s},"n":${n},"t":${t},"text":"${PAD}"}`;
const parsePayload = (data: string) => JSON.parse(data) as { s: number; n: number; t: number };

interface Window {
  warmupMs: number;
  durationMs: number;
}

/** Wait for in-flight work to settle (or give up after `ms`). */
async function drain(pending: () => number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  while (pending() > 0 && performance.now() < deadline) await sleep(10);
  return pending();
}

/**
 * W2, closed loop: each side of each pair keeps `window` messages in flight to its peer
 * and sends the next when one is delivered. With `rate`, an open-loop schedule instead:
 * `rate` messages/s in total, spread evenly over the senders.
 */
async function pairs(cmd: Window & { pairs: { a: number; b: number; target: string; targetB: string }[]; window: number; rate?: number }) {
  const latency = new Histogram(1 << 16);
  const senders: { index: number; target: string }[] = [];
  for (const p of cmd.pairs) {
    senders.push({ index: p.a, target: p.target }, { index: p.b, target: p.targetB });
  }
  const inflight = new Int32Array(senders.length);
  const seqs = new Int32Array(senders.length);
  let running = true;
  let measuring = false;
  let delivered = 0;
  let acks = 0;
  errors = 0;
  firstError = undefined;

  const send = (si: number, intended: number) => {
    const s = senders[si]!;
    inflight[si]!++;
    sendTo(s.index, s.target, payload(si, seqs[si]!++, intended));
  };
  onAck = () => {
    if (measuring) acks++;
  };
  onPayload = (_receiver, data) => {
    const p = parsePayload(data);
    if (p.s >= senders.length) return;
    inflight[p.s]!--;
    if (measuring) {
      delivered++;
      latency.record(performance.now() - p.t);
    }
    if (running && cmd.rate === undefined && inflight[p.s]! < cmd.window) send(p.s, performance.now());
  };

  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  if (cmd.rate === undefined) {
    for (let si = 0; si < senders.length; si++) for (let k = 0; k < cmd.window; k++) send(si, performance.now());
  } else {
    // Open loop: message k of the whole schedule is due at start + k/rate.
    const rate = cmd.rate;
    let k = 0;
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; k < due && running; k++) send(k % senders.length, start + (k / rate) * 1000);
    }, 1);
  }
  await sleep(cmd.warmupMs);
  measuring = true;
  const measureStart = performance.now();
  await sleep(cmd.durationMs);
  const elapsed = (performance.now() - measureStart) / 1000;
  measuring = false;
  running = false;
  if (timer) clearInterval(timer);
  const stuck = await drain(() => inflight.reduce((a, b) => a + Math.max(0, b), 0), 10_000);
  onPayload = () => {};
  onAck = () => {};
  return { delivered, acks, elapsed, rate: delivered / elapsed, latency: latency.toJSON(), errors, firstError, undelivered: stuck };
}

/**
 * W3: each group's publisher keeps `window` messages in flight; a message is done when
 * all `expected` recipients have it (its publish→last-recipient latency).
 */
async function fanout(cmd: Window & { groups: { publisher: number; target: string; expected: number }[]; window: number }) {
  const latency = new Histogram(1 << 14);
  const counts = cmd.groups.map(() => new Map<number, number>());
  const inflight = new Int32Array(cmd.groups.length);
  const seqs = new Int32Array(cmd.groups.length);
  let running = true;
  let measuring = false;
  let deliveries = 0;
  let completed = 0;
  errors = 0;
  firstError = undefined;

  const publish = (g: number) => {
    inflight[g]!++;
    sendTo(cmd.groups[g]!.publisher, cmd.groups[g]!.target, payload(g, seqs[g]!++, performance.now()));
  };
  onAck = () => {};
  onPayload = (_receiver, data) => {
    const p = parsePayload(data);
    // A late delivery of an earlier phase's message (its publisher index is not ours).
    if (!counts[p.s]) return;
    if (measuring) deliveries++;
    const seen = (counts[p.s]!.get(p.n) ?? 0) + 1;
    if (seen < cmd.groups[p.s]!.expected) {
      counts[p.s]!.set(p.n, seen);
      return;
    }
    counts[p.s]!.delete(p.n);
    inflight[p.s]!--;
    if (measuring) {
      completed++;
      latency.record(performance.now() - p.t);
    }
    if (running) publish(p.s);
  };
  for (let g = 0; g < cmd.groups.length; g++) for (let k = 0; k < cmd.window; k++) publish(g);
  await sleep(cmd.warmupMs);
  measuring = true;
  const measureStart = performance.now();
  await sleep(cmd.durationMs);
  const elapsed = (performance.now() - measureStart) / 1000;
  measuring = false;
  running = false;
  const stuck = await drain(() => inflight.reduce((a, b) => a + b, 0), 15_000);
  onPayload = () => {};
  return { deliveries, completed, published: seqs.reduce((a, b) => a + b, 0), elapsed, rate: deliveries / elapsed, latency: latency.toJSON(), errors, firstError, incomplete: stuck };
}

/** W4: senders write into conversations of their own, `window` sends in flight each; counts acks. */
async function persist(cmd: Window & { senders: { index: number; target: string }[]; window: number }) {
  const latency = new Histogram(1 << 16);
  const bySocket = new Map<number, number>(cmd.senders.map((s, i) => [s.index, i]));
  const sentAt = new Map<number, number>();
  const inflight = new Int32Array(cmd.senders.length);
  let running = true;
  let measuring = false;
  let acked = 0;
  let n = 0;
  errors = 0;
  firstError = undefined;
  const send = (si: number) => {
    inflight[si]!++;
    const now = performance.now();
    const reqId = n++;
    sentAt.set(reqId, now);
    sendTo(cmd.senders[si]!.index, cmd.senders[si]!.target, payload(si, reqId, now), reqId);
  };
  onPayload = () => {};
  onAck = (socket, reqId) => {
    const si = bySocket.get(socket)!;
    inflight[si]!--;
    const t = sentAt.get(reqId)!;
    sentAt.delete(reqId);
    if (measuring) {
      acked++;
      latency.record(performance.now() - t);
    }
    if (running) send(si);
  };
  const errorsBefore = errors;
  for (let si = 0; si < cmd.senders.length; si++) for (let k = 0; k < cmd.window; k++) send(si);
  await sleep(cmd.warmupMs);
  measuring = true;
  const measureStart = performance.now();
  await sleep(cmd.durationMs);
  const elapsed = (performance.now() - measureStart) / 1000;
  measuring = false;
  running = false;
  const stuck = await drain(() => inflight.reduce((a, b) => a + b, 0), 15_000);
  onAck = () => {};
  return { acked, elapsed, rate: acked / elapsed, latency: latency.toJSON(), errors: errors - errorsBefore, firstError, unacked: stuck };
}

interface Device {
  token: string;
  cursor: string;
  /** The last seq this device had of each conversation when it went offline. */
  known: Record<string, number>;
}

/** W5's HTTP clients by server, kept between runs (their connections stay open, as a device's would). */
const httpClients = new Map<string, HttpClient>();

/** One history page in this many is also parsed with JSON.parse and compared with the scan. */
const CROSS_CHECK_EVERY = 50;

/**
 * W5: devices that were offline reconnect at once, as the SDK does (client.ts `syncOnce`,
 * `firstPages`, `fill`): socket (auth → ready), sync from the old cursor, then the first page
 * of every changed conversation from its last known seq in batches (POST /v1/sync/messages,
 * a few in flight; a single changed conversation gets its plain GET page), then pages of
 * their own for the conversations a page could not hold, a few in parallel per device. Checks
 * that every seq arrived exactly once. Pages are checked from their bytes (`page-scan.ts`:
 * every seq, and that each envelope is of the conversation asked for), and a sample of them
 * through JSON.parse as well.
 */
async function catchup(cmd: { url: string; wsUrl: string; devices: Device[]; pageLimit: number; parallel: number }) {
  let http = httpClients.get(cmd.url);
  if (!http) httpClients.set(cmd.url, (http = new HttpClient(new URL(cmd.url))));
  let retries = 0;
  // A thousand devices at once overflow the listen backlog now and then; the SDK retries
  // a failed connection with backoff, and so do these (each retry is counted).
  const retrying = async <T>(what: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await what();
      } catch (err) {
        if (attempt >= 5 || err instanceof HttpStatusError || err instanceof PageScanError) throw err;
        retries++;
        await sleep(100 * 2 ** attempt);
      }
    }
  };
  const get = <T>(token: string, pathname: string, use: (body: Buffer) => T): Promise<T> => retrying(() => http.request('GET', pathname, token, undefined, use));
  const post = <T>(token: string, pathname: string, json: unknown, use: (body: Buffer) => T): Promise<T> => retrying(() => http.request('POST', pathname, token, json, use));
  // The generator's own warm-up, before the clock: its HTTP client's first request (module
  // code compiled, a pooled connection), on a route that reads nothing of the catch-up's.
  await http.request('GET', '/v1/health', undefined, undefined, () => undefined);
  let rows = 0;
  let missed = 0;
  let duplicates = 0;
  let requests = 0;
  let pages = 0;
  let crossChecked = 0;
  const sockets: WebSocket[] = [];
  const one = async (device: Device) => {
    const client = await retrying(() => open(cmd.wsUrl, device.token, undefined, -1));
    sockets.push(client.ws);
    const sync = await get(device.token, `/v1/sync?cursor=${encodeURIComponent(device.cursor)}`, (body) => JSON.parse(body.toString('utf8')) as { conversations: { id: string; lastSeq: number }[] });
    requests++;
    const changed = sync.conversations.filter((c) => c.lastSeq > (device.known[c.id] ?? 0));
    const after = new Map(changed.map((c) => [c.id, device.known[c.id] ?? 0]));
    const seen = new Map(changed.map((c) => [c.id, new Set<number>()]));
    /** A page's seqs arrived: counted, checked for duplicates; false when the conversation needs no more pages. */
    const took = (c: { id: string; lastSeq: number }, seqs: number[]): boolean => {
      const got = seen.get(c.id)!;
      for (const s of seqs) {
        if (got.has(s)) duplicates++;
        got.add(s);
      }
      rows += seqs.length;
      if (seqs.length > 0) after.set(c.id, seqs[seqs.length - 1]!);
      return seqs.length === cmd.pageLimit && after.get(c.id)! < c.lastSeq;
    };
    const queue: { id: string; lastSeq: number }[] = changed.length < 2 ? [...changed] : [];
    if (changed.length >= 2) {
      const size = batchSize(changed.length);
      const chunks = Array.from({ length: Math.ceil(changed.length / size) }, (_, i) => changed.slice(i * size, (i + 1) * size));
      const batch = async () => {
        for (let chunk = chunks.shift(); chunk; chunk = chunks.shift()) {
          const ids = chunk.map((c) => c.id);
          const got = await post(device.token, '/v1/sync/messages', { conversations: chunk.map((c) => ({ conversationId: c.id, after: after.get(c.id) })), limit: cmd.pageLimit }, (body) => {
            const scanned = scanBatch(body, ids);
            scanned.forEach((p, i) => {
              if (pages++ % CROSS_CHECK_EVERY === 0) {
                crossCheckBatchPage(body, ids[i]!, p);
                crossChecked++;
              }
            });
            return scanned;
          });
          requests++;
          // A conversation the batch left out (its size budget) or could not finish goes on page by page.
          chunk.forEach((c, i) => {
            const p = got[i];
            if (!p || took(c, p.seqs)) queue.push(c);
          });
        }
      };
      await Promise.all(Array.from({ length: cmd.parallel }, batch));
    }
    const page = async () => {
      for (let conv = queue.shift(); conv; conv = queue.shift()) {
        for (;;) {
          const seqs = await get(device.token, `/v1/conversations/${conv.id}/messages?after=${after.get(conv.id)}&limit=${cmd.pageLimit}`, (body) => {
            const scanned = scanSeqs(body, conv.id);
            if (pages++ % CROSS_CHECK_EVERY === 0) {
              crossCheck(body, conv.id, scanned);
              crossChecked++;
            }
            return scanned;
          });
          requests++;
          if (!took(conv, seqs)) break;
        }
      }
    };
    await Promise.all(Array.from({ length: cmd.parallel }, page));
    for (const c of changed) {
      const got = seen.get(c.id)!;
      for (let s = (device.known[c.id] ?? 0) + 1; s <= c.lastSeq; s++) if (!got.has(s)) missed++;
    }
  };
  const started = performance.now();
  await Promise.all(cmd.devices.map(one));
  const seconds = (performance.now() - started) / 1000;
  for (const ws of sockets) ws.terminate();
  return { rows, seconds, rate: rows / seconds, missed, duplicates, requests, retries, crossChecked };
}

async function closeAll() {
  const n = clients.length;
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.ws.close();
          setTimeout(() => {
            c.ws.terminate();
            resolve();
          }, 5000);
        }),
    ),
  );
  clients.length = 0;
  return { closed: n };
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'connect':
      return connect(cmd as never);
    case 'join':
      return join(cmd as never);
    case 'pairs':
      return pairs(cmd as never);
    case 'fanout':
      return fanout(cmd as never);
    case 'persist':
      return persist(cmd as never);
    case 'catchup':
      return catchup(cmd as never);
    case 'close':
      return closeAll();
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});
