/**
 * The storage baseline on PostgreSQL: 1,000-row transactions into the same migrated
 * table, each one prepared statement that inserts the batch from arrays (unnest), the
 * fastest path node-postgres offers short of COPY. synchronous_commit=on, as Parley's default.
 */
import pg from 'pg';
import { serveCommands } from '../lib/proc.ts';
import { rows, type Row } from './rows.ts';

const COLUMNS = ['id', 'conversation_id', 'seq', 'sender_id', 'sender_device_id', 'client_id', 'kind', 'encoding', 'data', 'attachment_ids', 'created_at'] as const;
const TYPES = ['text', 'text', 'int', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];
const INSERT = `insert into messages (${COLUMNS.join(', ')}) select * from unnest(${TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;

/**
 * W4's insert in turns with Parley: `open` makes every batch's arrays up front (the baseline
 * times the database, not uuidv7) and connects; each `insert` writes the next `count` rows'
 * batches and times that; `finish` measures the table and disconnects.
 */
let session: { client: pg.Client; batches: unknown[][][]; batchRows: number; next: number } | null = null;

async function openInsert(cmd: { url: string; count: number; batch: number; conversations: string[]; userId: string; deviceId: string }) {
  if (session) throw new Error('an insert session is open');
  const client = new pg.Client({ connectionString: cmd.url, options: '-c synchronous_commit=on' });
  await client.connect();
  const source = rows(cmd.count, cmd.conversations, { userId: cmd.userId, deviceId: cmd.deviceId });
  const batches: unknown[][][] = [];
  for (let done = 0; done < cmd.count; done += cmd.batch) {
    const columns: unknown[][] = COLUMNS.map(() => []);
    for (let i = 0; i < Math.min(cmd.batch, cmd.count - done); i++) {
      const r = source.next().value as Row;
      COLUMNS.forEach((c, k) => columns[k]!.push(r[c]));
    }
    batches.push(columns);
  }
  session = { client, batches, batchRows: cmd.batch, next: 0 };
  return { rows: cmd.count };
}

/** The next batches holding `count` rows (whole batches: the last may hold fewer). */
async function insert(cmd: { count: number }) {
  if (!session) throw new Error('no insert session: open first');
  const s = session;
  const end = Math.min(s.batches.length, s.next + Math.max(1, Math.round(cmd.count / s.batchRows)));
  let inserted = 0;
  const started = performance.now();
  for (let b = s.next; b < end; b++) {
    const columns = s.batches[b]!;
    await s.client.query('begin');
    await s.client.query({ name: 'bench-insert', text: INSERT, values: columns });
    await s.client.query('commit');
    inserted += columns[0]!.length;
  }
  const elapsed = (performance.now() - started) / 1000;
  s.next = end;
  return { rows: inserted, elapsed, rate: elapsed > 0 ? inserted / elapsed : 0, latency: [] as number[] };
}

async function finish() {
  if (!session) throw new Error('no insert session');
  const size = await messageBytes(session.client);
  await session.client.end();
  session = null;
  return { rows: size.rows, bytesPerMessage: size.rows ? size.bytes / size.rows : null };
}

/** The messages table with its indexes and TOAST, after a VACUUM so dead tuples do not count. */
export async function messageBytes(client: pg.Client): Promise<{ bytes: number; rows: number }> {
  await client.query('vacuum messages');
  const { rows: r } = await client.query<{ bytes: string; n: string }>("select pg_total_relation_size('messages') as bytes, (select count(*) from messages) as n");
  return { bytes: Number(r[0]!.bytes), rows: Number(r[0]!.n) };
}

async function size(cmd: { url: string }) {
  const client = new pg.Client({ connectionString: cmd.url });
  await client.connect();
  const s = await messageBytes(client);
  await client.end();
  return { ...s, bytesPerMessage: s.rows ? s.bytes / s.rows : null };
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'open':
      return openInsert(cmd as never);
    case 'insert':
      return insert(cmd as never);
    case 'finish':
      return finish();
    case 'size':
      return size(cmd as never);
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});
