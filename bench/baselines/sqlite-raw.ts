/**
 * The storage baselines on SQLite: raw better-sqlite3 on the same migrated schema, with
 * the server's pragmas (WAL, synchronous=FULL). W4: prepared insert in 1,000-row
 * transactions, a share of the rows at a time (in turns with Parley). W5: prepared range
 * scan by (conversation_id, seq), the way catch-up pages.
 */
import SQLite from 'better-sqlite3';
import { serveCommands } from '../lib/proc.ts';
import { rows, type Row } from './rows.ts';

function open(file: string): SQLite.Database {
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  return db;
}

/** Bytes of the messages table and all its indexes, as SQLite lays them out in pages. */
export function messageBytes(db: SQLite.Database): { bytes: number; rows: number } {
  const { bytes } = db
    .prepare("select coalesce(sum(pgsize), 0) as bytes from dbstat where name in (select name from sqlite_master where tbl_name = 'messages')")
    .get() as { bytes: number };
  const { n } = db.prepare('select count(*) as n from messages').get() as { n: number };
  return { bytes, rows: n };
}

/**
 * W4's insert in turns with Parley: `open` makes every row up front (the baseline times the
 * database, not uuidv7) and opens the file; each `insert` writes the next `count` of them in
 * transactions of `batch` rows and times that; `finish` measures the table and closes.
 */
let session: { db: SQLite.Database; all: Row[]; next: number; batchRows: number; batch: (from: number, to: number) => void } | null = null;

export function openInsert(cmd: { file: string; count: number; batch: number; conversations: string[]; userId: string; deviceId: string }) {
  if (session) throw new Error('an insert session is open');
  const db = open(cmd.file);
  const stmt = db.prepare(
    `insert into messages (id, conversation_id, seq, sender_id, sender_device_id, client_id, kind, encoding, data, attachment_ids, created_at)
     values (@id, @conversation_id, @seq, @sender_id, @sender_device_id, @client_id, @kind, @encoding, @data, @attachment_ids, @created_at)`,
  );
  const all = [...rows(cmd.count, cmd.conversations, { userId: cmd.userId, deviceId: cmd.deviceId })];
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) stmt.run(all[i]);
  });
  session = { db, all, next: 0, batchRows: cmd.batch, batch };
  return { rows: all.length };
}

export function insert(cmd: { count: number }) {
  if (!session) throw new Error('no insert session: open first');
  const s = session;
  const end = Math.min(s.all.length, s.next + cmd.count);
  const from = s.next;
  const started = performance.now();
  for (let done = from; done < end; done += s.batchRows) s.batch(done, Math.min(end, done + s.batchRows));
  const elapsed = (performance.now() - started) / 1000;
  s.next = end;
  return { rows: end - from, elapsed, rate: elapsed > 0 ? (end - from) / elapsed : 0, latency: [] as number[] };
}

export function finish() {
  if (!session) throw new Error('no insert session');
  const size = messageBytes(session.db);
  session.db.close();
  session = null;
  return { rows: size.rows, bytesPerMessage: size.rows ? size.bytes / size.rows : null };
}

/** Each range: the rows of one conversation after `after`, paged `limit` at a time. */
function scan(cmd: { file: string; ranges: { conversationId: string; after: number }[]; limit: number; repeat?: number }) {
  const db = new SQLite(cmd.file, { readonly: true });
  const stmt = db.prepare('select * from messages where conversation_id = ? and seq > ? order by seq limit ?');
  let total = 0;
  const started = performance.now();
  for (let r = 0; r < (cmd.repeat ?? 1); r++) {
    for (const range of cmd.ranges) {
      let after = range.after;
      for (;;) {
        const page = stmt.all(range.conversationId, after, cmd.limit) as { seq: number }[];
        total += page.length;
        if (page.length < cmd.limit) break;
        after = page[page.length - 1]!.seq;
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return { rows: total, seconds, rate: total / seconds };
}

function size(cmd: { file: string }) {
  const db = new SQLite(cmd.file, { readonly: true });
  const s = messageBytes(db);
  db.close();
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
    case 'scan':
      return scan(cmd as never);
    case 'size':
      return size(cmd as never);
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});
