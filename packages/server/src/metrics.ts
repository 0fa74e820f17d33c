import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus registry and the few metrics that matter for a messaging server. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    connections: new Gauge({ name: 'parley_ws_connections', help: 'open, authenticated WebSocket connections', registers: [registry] }),
    messagesSent: new Counter({ name: 'parley_messages_sent_total', help: 'envelopes committed', labelNames: ['kind'] as const, registers: [registry] }),
    messagesDelivered: new Counter({ name: 'parley_messages_delivered_total', help: 'envelopes written to sockets', registers: [registry] }),
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
