import { useState, type FormEvent } from 'react';
import { LIMITS } from '@parley/protocol';
import type { Conversation, User } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { describeError } from '../lib/errors.ts';
import { navigate } from '../lib/router.ts';
import { Modal } from '../ui/modal.tsx';
import { PeoplePicker } from '../ui/people-picker.tsx';

/** Names of people a group could not take, without saying why (a block never shows). */
export function notAddedText(notAdded: { userId: string }[], picked: User[]): string | null {
  if (!notAdded.length) return null;
  const names = notAdded.map((n) => {
    const u = picked.find((p) => p.id === n.userId);
    return u ? u.displayName || u.username : 'someone';
  });
  return `${names.join(', ')} could not be added: their settings don’t allow it.`;
}

export function NewGroupDialog({ onClose }: { onClose: () => void }) {
  const { client, toast } = useApp();
  const [title, setTitle] = useState('');
  const [picked, setPicked] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!title.trim()) return setError('Give the group a name.');
    setBusy(true);
    try {
      const created = await client.conversations.create({ type: 'group', title: title.trim(), memberIds: picked.map((u) => u.id) });
      const { notAdded, ...conversation } = created;
      client.store.upsertConversation(conversation as Conversation);
      const skipped = notAddedText(notAdded, picked);
      if (skipped) toast(skipped);
      onClose();
      navigate({ name: 'conversation', id: conversation.id });
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };
  return (
    <Modal title="New group" onClose={onClose}>
      <form onSubmit={submit} className="modal-form">
        <div className="field">
          <label htmlFor="group-title">Group name</label>
          <input id="group-title" className="input" maxLength={LIMITS.titleMax} value={title} onChange={(e) => setTitle(e.target.value)} autoFocus />
        </div>
        <PeoplePicker picked={picked} onChange={setPicked} />
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="btn btn-ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            Create group
          </button>
        </div>
      </form>
    </Modal>
  );
}
