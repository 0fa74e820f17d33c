import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001-initial.ts';
import * as m0040 from './0040-attachments-filename.ts';
import * as m0041 from './0041-retention-ref-target.ts';
import * as m0042 from './0042-conversation-state-invites.ts';

/** Every migration, in order. Add new ones at the end; never edit a released one. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0040-attachments-filename': m0040,
  '0041-retention-ref-target': m0041,
  '0042-conversation-state-invites': m0042,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
