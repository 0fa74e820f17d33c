/** A listener map: event name → listener arguments. */
export type EventMap = Record<string, unknown[]>;

/**
 * A tiny typed event emitter (no Node `events`, so it runs in browsers too).
 *
 * @example
 * const e = new Emitter<{ ping: [number] }>();
 * const off = e.on('ping', (n) => use(n));
 * e.emit('ping', 1);
 * off();
 */
export class Emitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, Set<(...args: unknown[]) => void>>();

  /**
   * Listen to an event; returns a function that stops listening.
   *
   * @example
   * const off = client.on('message', (envelope) => render(envelope));
   */
  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as unknown as (...args: unknown[]) => void);
    return () => this.off(event, listener);
  }

  /**
   * Listen to the next occurrence only.
   *
   * @example
   * client.once('ready', () => console.log('connected'));
   */
  once<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  /**
   * Stop listening.
   *
   * @example
   * client.off('message', handler);
   */
  off<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): void {
    this.listeners.get(event)?.delete(listener as unknown as (...args: unknown[]) => void);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as unknown as (...a: Events[K]) => void)(...args);
      } catch (err) {
        // A faulty listener must not break delivery to the others or the SDK's own state.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
