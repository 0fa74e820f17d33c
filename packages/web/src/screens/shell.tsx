import { useEffect, useState, useSyncExternalStore } from 'react';
import { isMutedNow, type ConnectionState, type Conversation, type ParleyClient } from '@parley/sdk';
import { useApp } from '../lib/app-context.ts';
import { conversationName } from '../lib/conversations.ts';
import { useRoute } from '../lib/router.ts';
import { useDirectory } from '../lib/users.ts';
import { IconChat } from '../ui/icons.tsx';
import { ConversationView } from './conversation.tsx';
import { SettingsScreen } from './settings.tsx';
import { Sidebar } from './sidebar.tsx';

/** The signed-in messenger: the list beside the open pane, plus what runs in the background. */
export function Shell() {
  const { client } = useApp();
  const route = useRoute();
  const snapshot = useSyncExternalStore(client.store.subscribe, client.store.getSnapshot);
  const connection = useConnection(client);
  useUnreadTitle(snapshot.conversations);
  useNotifications(route.name === 'conversation' ? route.id : null);

  const view = route.name === 'inbox' || route.name === 'requests' || route.name === 'archived' ? 'list' : 'pane';
  return (
    <>
    <ConnectionBanner state={connection} onRetry={() => client.reconnectNow()} />
    <div className="app" data-view={view}>
      <a className="skip-link" href="#main">
        Skip to the main content
      </a>
      <Sidebar folder={route.name === 'requests' || route.name === 'archived' ? route.name : 'inbox'} activeId={route.name === 'conversation' ? route.id : null} snapshot={snapshot} />
      <main id="main" className="pane" tabIndex={-1}>
        {route.name === 'conversation' ? (
          <ConversationView key={route.id} conversationId={route.id} />
        ) : route.name === 'settings' ? (
          <SettingsScreen />
        ) : (
          <div className="pane-empty">
            <IconChat />
            <h2>Your conversations, only yours</h2>
            <p>Pick a conversation, or search for someone to start one.</p>
          </div>
        )}
      </main>
    </div>
    </>
  );
}

/** The socket state, with a short grace so a quick reconnect does not flash a banner. */
function useConnection(client: ParleyClient): ConnectionState {
  const [state, setState] = useState<ConnectionState>(client.connectionState);
  const [shown, setShown] = useState<ConnectionState>('online');
  useEffect(() => client.on('connection', setState), [client]);
  useEffect(() => {
    const offline = () => setState('offline');
    // Back on the network: try at once rather than waiting out the backoff.
    const online = () => {
      client.reconnectNow();
      setState(client.connectionState);
    };
    window.addEventListener('offline', offline);
    window.addEventListener('online', online);
    return () => {
      window.removeEventListener('offline', offline);
      window.removeEventListener('online', online);
    };
  }, [client]);
  useEffect(() => {
    if (state === 'online') {
      setShown('online');
      return;
    }
    const t = setTimeout(() => setShown(state), 1500);
    return () => clearTimeout(t);
  }, [state]);
  return shown;
}

function ConnectionBanner({ state, onRetry }: { state: ConnectionState; onRetry: () => void }) {
  return (
    <div role="status" aria-live="polite">
      {state !== 'online' && (
        <div className="connection-banner" data-testid="offline-banner">
          <span className="dot" aria-hidden="true" />
          {state === 'connecting' ? 'Connecting…' : 'You are offline. Reconnecting…'}
          <button type="button" className="link-btn" onClick={onRetry}>
            Retry now
          </button>
        </div>
      )}
    </div>
  );
}

/** "(3) Parley": unread messages in conversations that are not muted. */
function useUnreadTitle(conversations: Conversation[]): void {
  const unread = conversations.reduce((n, c) => n + (c.myState === 'active' && !isMutedNow(c) ? c.unreadCount : 0), 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Parley` : 'Parley';
  }, [unread]);
}

/**
 * A browser notification for a new message while the tab is hidden, once the person allowed
 * it. It names the sender and the conversation, never the message text: with end-to-end
 * encryption the text must not leave the app.
 */
function useNotifications(openId: string | null): void {
  const { client, me, users } = useApp();
  const dir = useDirectory(users);
  useEffect(() => {
    if (typeof Notification === 'undefined') return;
    return client.on('message', (envelope) => {
      if (envelope.senderId === me.id || envelope.kind !== 'message') return;
      if (!document.hidden && envelope.conversationId === openId) return;
      if (!document.hidden) return;
      if (Notification.permission !== 'granted') return;
      const c = client.store.getConversation(envelope.conversationId);
      if (!c || isMutedNow(c) || c.myState !== 'active') return;
      const sender = dir.name(envelope.senderId);
      const title = c.type === 'group' ? `${sender} in ${conversationName(c, me.id, dir)}` : sender;
      const n = new Notification(title, { body: 'New message', tag: envelope.conversationId, icon: '/favicon.svg' });
      n.onclick = () => {
        window.focus();
        window.history.pushState(null, '', `/c/${encodeURIComponent(envelope.conversationId)}`);
        window.dispatchEvent(new PopStateEvent('popstate'));
        n.close();
      };
    });
  }, [client, me.id, dir, openId]);
}
