import { DEFAULT_PRIVACY, type PrivacySettings } from '@parley/protocol';
import type { AppContext } from '../../context.ts';
import { fromBool } from '../../storage/db.ts';
import { privacyOf } from './policy.ts';
import { presenceAudienceOf, presenceVisibleTo, presenceWithdrawn } from './visibility.ts';

/** A user's own privacy settings (GET/PATCH /v1/me/privacy). */
export function createPrivacySettings(ctx: AppContext) {
  const { db } = ctx;
  return {
    async get(me: string): Promise<PrivacySettings> {
      return (await privacyOf(db, [me])).get(me) ?? { ...DEFAULT_PRIVACY };
    },

    async update(me: string, patch: Partial<PrivacySettings>): Promise<PrivacySettings> {
      const set: { who_can_message?: string; who_can_add_to_groups?: string; read_receipts?: number; presence?: string } = {};
      if (patch.whoCanMessage !== undefined) set.who_can_message = patch.whoCanMessage;
      if (patch.whoCanAddToGroups !== undefined) set.who_can_add_to_groups = patch.whoCanAddToGroups;
      if (patch.readReceipts !== undefined) set.read_receipts = fromBool(patch.readReceipts);
      if (patch.presence !== undefined) set.presence = patch.presence;
      if (Object.keys(set).length > 0) {
        const audience = patch.presence !== undefined ? await presenceAudienceOf(db, me) : [];
        const before = await presenceVisibleTo(db, me, audience);
        await db.updateTable('users').set(set).where('id', '=', me).execute();
        // The user's other devices show their settings.
        ctx.emit({ type: 'user.changed', userId: me, recipientIds: [me] });
        // Those a stricter presence setting shuts out see the user go offline, now rather than at their next reconnect.
        const withdrawn = presenceWithdrawn(me, before, await presenceVisibleTo(db, me, audience));
        if (withdrawn) ctx.emit(withdrawn);
      }
      return this.get(me);
    },
  };
}

export type PrivacySettingsStore = ReturnType<typeof createPrivacySettings>;
