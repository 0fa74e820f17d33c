import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The one configuration schema. Every key has a description, a default and a `PARLEY_*`
 * environment name (plus the conventional `DATABASE_URL` and `REDIS_URL`). Secrets may
 * also come from a file named by `<NAME>_FILE`. This is the only module that reads
 * `process.env`; the parsed object is passed down.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

interface Key {
  env: string;
  schema: z.ZodType;
  description: string;
  secret?: boolean;
}

const KEYS = {
  port: { env: 'PARLEY_PORT', schema: int(0, 65535).default(8080), description: 'TCP port of the HTTP and WebSocket server' },
  host: { env: 'PARLEY_HOST', schema: z.string().min(1).default('0.0.0.0'), description: 'address to listen on' },
  dataDir: { env: 'PARLEY_DATA_DIR', schema: z.string().min(1).default('./data'), description: 'where the SQLite database and the attachment blobs live' },
  databaseUrl: { env: 'DATABASE_URL', schema: z.string().url().optional(), description: 'PostgreSQL URL; SQLite under the data dir when unset', secret: true },
  redisUrl: { env: 'REDIS_URL', schema: z.string().url().optional(), description: 'Redis URL for the cross-process bus, presence and shared rate limits; in-process when unset', secret: true },
  logLevel: { env: 'PARLEY_LOG_LEVEL', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), description: 'pino log level' },
  webDir: { env: 'PARLEY_WEB_DIR', schema: z.string().optional(), description: 'folder of the built web app served at /; defaults to packages/web/dist when it exists' },
  durability: {
    env: 'PARLEY_DURABILITY',
    schema: z.enum(['full', 'normal']).default('full'),
    description: 'full: an acked message is fsynced (survives a machine crash). normal: SQLite synchronous=NORMAL / PostgreSQL synchronous_commit=off, survives a process crash but may lose the last moments on power loss',
  },
  operatorToken: { env: 'PARLEY_OPERATOR_TOKEN', schema: z.string().min(16).optional(), description: 'bearer token of the operator (admin API: reports, moderation); admin API is off when unset', secret: true },
  corsOrigins: { env: 'PARLEY_CORS_ORIGINS', schema: z.string().default(''), description: 'comma-separated origins allowed by CORS; closed when empty' },
  trustProxy: { env: 'PARLEY_TRUST_PROXY', schema: bool.default(false), description: 'trust X-Forwarded-For from a reverse proxy (for per-address rate limits)' },
  wsMaxBufferedBytes: { env: 'PARLEY_WS_MAX_BUFFERED_BYTES', schema: int(64 * 1024, 1 << 30).default(4 * 1024 * 1024), description: 'a socket whose unsent data exceeds this is cut (slow consumer) and must resync' },
  wsHeartbeatMs: { env: 'PARLEY_WS_HEARTBEAT_MS', schema: int(100, 600_000).default(30_000), description: 'ping interval; a peer that misses a pong is dropped' },
  wsAuthTimeoutMs: { env: 'PARLEY_WS_AUTH_TIMEOUT_MS', schema: int(100, 600_000).default(10_000), description: 'a socket that has not authenticated by then is closed' },
  requestMaxMessages: { env: 'PARLEY_REQUEST_MAX_MESSAGES', schema: int(1, 100).default(3), description: 'messages a sender may send into an unanswered message request' },
  requestsPerDay: { env: 'PARLEY_REQUESTS_PER_DAY', schema: int(1, 100_000).default(20), description: 'new message requests one user may open per day (and, counted apart, new connection requests)' },
  signInPerUsername: { env: 'PARLEY_SIGNIN_PER_USERNAME', schema: int(1, 100_000).default(10), description: 'sign-in attempts per username per 15 minutes (a successful sign-in starts it afresh)' },
  signInPerAddress: { env: 'PARLEY_SIGNIN_PER_ADDRESS', schema: int(1, 100_000).default(50), description: 'failed sign-in attempts per client address per 15 minutes (then 429 until one comes back)' },
  sendsPerMinute: { env: 'PARLEY_SENDS_PER_MINUTE', schema: int(1, 1_000_000).default(600), description: 'messages one user may send per minute' },
  typingPerMinute: { env: 'PARLEY_TYPING_PER_MINUTE', schema: int(1, 1_000_000).default(120), description: 'typing events one user may send per minute' },
  groupMemberCap: { env: 'PARLEY_GROUP_MEMBER_CAP', schema: int(2, 100_000).default(1000), description: 'most members a group may have' },
  attachmentMaxBytes: { env: 'PARLEY_ATTACHMENT_MAX_BYTES', schema: int(1, 10 * 1024 ** 3).default(100 * 1024 * 1024), description: 'largest attachment upload' },
  attachmentQuotaBytes: { env: 'PARLEY_ATTACHMENT_QUOTA_BYTES', schema: int(1, 1024 ** 4).default(5 * 1024 ** 3), description: 'total attachment bytes one user may store' },
  attachmentOrphanAgeMs: { env: 'PARLEY_ATTACHMENT_ORPHAN_AGE_MS', schema: int(0, 365 * 86_400_000).default(86_400_000), description: 'an upload no envelope has listed after this long is deleted' },
  attachmentSweepIntervalMs: { env: 'PARLEY_ATTACHMENT_SWEEP_INTERVAL_MS', schema: int(10, 86_400_000).default(600_000), description: 'how often unreferenced uploads are looked for and deleted' },
  retentionSweepIntervalMs: { env: 'PARLEY_RETENTION_SWEEP_INTERVAL_MS', schema: int(10, 3_600_000).default(5_000), description: 'how often expired (disappearing) envelopes and their attachments are erased' },
} satisfies Record<string, Key>;

type Keys = typeof KEYS;
export type Config = { [K in keyof Keys]: z.output<Keys[K]['schema']> };
export type ConfigKey = keyof Keys;

export class ConfigError extends Error {}

/** Parse the environment (or any record shaped like it) into a validated Config. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(KEYS) as [ConfigKey, Key][]) {
    let raw = env[spec.env];
    const fileVar = env[`${spec.env}_FILE`];
    if (raw === undefined && fileVar && spec.secret) {
      try {
        raw = readFileSync(fileVar, 'utf8').trim();
      } catch (err) {
        problems.push(`${spec.env}_FILE: cannot read ${fileVar} (${(err as Error).message})`);
        continue;
      }
    }
    if (raw === '') raw = undefined;
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) out[key] = parsed.data;
    else problems.push(`${spec.env}: ${parsed.error.issues.map((i) => i.message).join('; ')} (${spec.description})`);
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  const config = out as Config;
  config.dataDir = path.resolve(config.dataDir);
  return config;
}

/** A Config for tests and embedding: defaults plus overrides, without reading the environment. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides };
}

/** The effective config with secrets hidden, as `parley config` prints it. */
export function describeConfig(config: Config): { key: string; env: string; value: unknown; description: string }[] {
  return (Object.entries(KEYS) as [ConfigKey, Key][]).map(([key, spec]) => ({
    key,
    env: spec.env,
    value: spec.secret && config[key] !== undefined ? '[redacted]' : config[key],
    description: spec.description,
  }));
}
