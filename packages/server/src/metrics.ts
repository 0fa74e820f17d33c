import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration } from 'prom-client';

/**
 * A counter of the message path, bumped for every envelope and every recipient: it adds to
 * plain numbers there, and the Prometheus counter takes them when it is scraped. (prom-client's
 * `inc` builds a label hash, validates and allocates a result on every call: a group message
 * paid that once per recipient.) At most one label, whose value `add` takes.
 */
export class Tally<L extends string = never> {
  private unlabelled = 0;
  private readonly byValue = new Map<string, number>();
  readonly counter: Counter<L>;

  constructor(config: Omit<CounterConfiguration<L>, 'collect'>) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- collect's `this` is the counter
    const tally = this;
    const label = config.labelNames?.[0];
    this.counter = new Counter<L>({
      ...config,
      collect() {
        if (label === undefined) {
          if (tally.unlabelled > 0) this.inc(tally.unlabelled);
        } else {
          for (const [value, n] of tally.byValue) this.inc({ [label]: value } as Partial<Record<L, string>>, n);
        }
        tally.unlabelled = 0;
        tally.byValue.clear();
      },
    });
  }

  /** Count `n` more; for a labelled tally, of the label's `value`. */
  add(n: number, value?: string): void {
    if (value === undefined) this.unlabelled += n;
    else this.byValue.set(value, (this.byValue.get(value) ?? 0) + n);
  }
}

/** The Prometheus registry and the few metrics that matter for a messaging server. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    connections: new Gauge({ name: 'parley_ws_connections', help: 'open, authenticated WebSocket connections', registers: [registry] }),
    messagesSent: new Tally({ name: 'parley_messages_sent_total', help: 'envelopes committed', labelNames: ['kind'] as const, registers: [registry] }),
    messagesDelivered: new Tally({ name: 'parley_messages_delivered_total', help: 'envelopes written to sockets', registers: [registry] }),
    sendLatency: new Histogram({
      name: 'parley_send_seconds',
      help: 'from a send arriving to its ack (commit included)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'parley_http_request_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    errors: new Counter({ name: 'parley_errors_total', help: 'answers with an error code', labelNames: ['code'] as const, registers: [registry] }),
    slowConsumers: new Counter({ name: 'parley_ws_slow_consumers_total', help: 'sockets cut because they did not drain', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
