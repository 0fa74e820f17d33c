/**
 * Node 20 has no global WebSocket: this entry point (`@parley/sdk/node`) supplies the `ws`
 * package's, so browser bundles of `@parley/sdk` never pull `ws` in.
 *
 * @example
 * import { createNodeClient } from '@parley/sdk/node';
 * const client = createNodeClient({ baseUrl: 'http://localhost:8080', token });
 * await client.connect();
 */
import { WebSocket } from 'ws';
import { ParleyClient, type ParleyClientOptions } from './client.ts';
import type { WebSocketConstructor } from './socket.ts';

export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/**
 * A `ParleyClient` that uses the `ws` package for its socket.
 *
 * @example
 * const client = createNodeClient({ baseUrl: process.env.PARLEY_URL!, token: process.env.PARLEY_TOKEN });
 */
export function createNodeClient(options: Omit<ParleyClientOptions, 'WebSocket'>): ParleyClient {
  return new ParleyClient({ ...options, WebSocket: NodeWebSocket });
}

export * from './index.ts';
