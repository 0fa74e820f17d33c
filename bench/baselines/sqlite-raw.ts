/**
 * The storage baselines on SQLite: raw better-sqlite3 on the same migrated schema, with
 * the server's pragmas (WAL, synchronous=FULL). W4: prepared insert in 1,000-row
 * transactions. W5: prepared range scan by (conversation_id, seq), the way catch-up pages.
 */
import SQLite from 'better-sqlite3';
import { serveCommands } from '../lib/proc.ts';
import { rows } from './rows.ts';

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

function insert(cmd: { file: string; count: number; batch: number; conversations: string[]; userId: string; deviceId: string }) {
  const db = open(cmd.file);
  const stmt = db.prepare(
    `insert into messages (id, conversation_id, seq, sender_id, sender_device_id, client_id, kind, encoding, data, attachment_ids, created_at)
     values (@id, @conversation_id, @seq, @sender_id, @sender_device_id, @client_id, @kind, @encoding, @data, @attachment_ids, @created_at)`,
  );
  // Rows are made before the clock starts: the baseline times the database, not uuidv7.
  const all = [...rows(cmd.count, cmd.conversations, { userId: cmd.userId, deviceId: cmd.deviceId })];
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) stmt.run(all[i]);
  });
  const started = performance.now();
  for (let done = 0; done < cmd.count; done += cmd.batch) batch(done, Math.min(cmd.count, done + cmd.batch));
  const seconds = (performance.now() - started) / 1000;
  const size = messageBytes(db);
  db.close();
  return { rows: cmd.count, seconds, rate: cmd.count / seconds, bytesPerMessage: size.bytes / size.rows };
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
    case 'insert':
      return insert(cmd as never);
    case 'scan':
      return scan(cmd as never);
    case 'size':
      return size(cmd as never);
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});
