import { useState, useSyncExternalStore } from 'react';
import { LIMITS } from '@parley/protocol';
import type { MessageView } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { conversationName } from '../lib/conversations.ts';
import { describeError } from '../lib/errors.ts';
import { useDirectory } from '../lib/users.ts';
import { ConversationAvatar } from '../ui/conversation-avatar.tsx';
import { Modal } from '../ui/modal.tsx';

/** Forward a message to up to `LIMITS.forwardMax` conversations; the copies are marked "Forwarded". */
export function ForwardDialog({ message, onClose }: { message: MessageView; onClose: () => void }) {
  const { client, me, users, toast } = useApp();
  const dir = useDirectory(users);
  const inbox = useSyncExternalStore(client.store.subscribe, () => client.store.getSnapshot().inbox);
  const [picked, setPicked] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const full = picked.length >= LIMITS.forwardMax;
  const forward = async () => {
    setBusy(true);
    try {
      await client.forward(message, picked);
      toast(`Forwarded to ${picked.length} conversation${picked.length === 1 ? '' : 's'}.`);
      onClose();
    } catch (err) {
      toast(describeError(err));
      setBusy(false);
    }
  };
  return (
    <Modal title="Forward to…" onClose={onClose}>
      <p id="forward-hint" className="conv-time">
        Choose up to {LIMITS.forwardMax} conversations. {picked.length > 0 && `${picked.length} chosen.`}
      </p>
      <ul className="forward-list" aria-label="Conversations" aria-describedby="forward-hint">
        {inbox.map((c) => {
          const name = conversationName(c, me.id, dir);
          const on = picked.includes(c.id);
          return (
            <li key={c.id}>
              <label>
                <input
                  type="checkbox"
                  checked={on}
                  disabled={!on && full}
                  onChange={(e) => setPicked((prev) => (e.target.checked ? [...prev, c.id] : prev.filter((id) => id !== c.id)))}
                />
                <ConversationAvatar c={c} name={name} size="s" />
                <span>{name}</span>
              </label>
            </li>
          );
        })}
      </ul>
      <div className="modal-actions">
        <button type="button" className="btn btn-ghost" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="btn btn-primary" disabled={!picked.length || busy} onClick={() => void forward()}>
          Forward
        </button>
      </div>
    </Modal>
  );
}
