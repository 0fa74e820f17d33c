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

async function insert(cmd: { url: string; count: number; batch: number; conversations: string[]; userId: string; deviceId: string }) {
  const client = new pg.Client({ connectionString: cmd.url, options: '-c synchronous_commit=on' });
  await client.connect();
  const text = `insert into messages (${COLUMNS.join(', ')}) select * from unnest(${TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;
  // Batches are made before the clock starts: the baseline times the database, not uuidv7.
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
  const started = performance.now();
  for (const columns of batches) {
    await client.query('begin');
    await client.query({ name: 'bench-insert', text, values: columns });
    await client.query('commit');
  }
  const seconds = (performance.now() - started) / 1000;
  const size = await messageBytes(client);
  await client.end();
  return { rows: cmd.count, seconds, rate: cmd.count / seconds, bytesPerMessage: size.bytes / size.rows };
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
    case 'insert':
      return insert(cmd as never);
    case 'size':
      return size(cmd as never);
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});
