/**
 * The baseline WebSocket server: the `ws` library with nothing of Parley in it. It stands
 * for the physical limit of the socket workloads on this machine.
 *
 * - W1: holds authenticated sockets (a Map from id to socket, the least any server keeps).
 * - W2: relays: parses each frame, looks up the peer, forwards the bytes it received.
 * - W3: fans out: writes one pre-serialized buffer to every other socket of a group.
 *
 * Frames: {type:'auth', token} → {type:'ready'}; {type:'join', group}; {type:'send', to, data};
 * {type:'fanout', group, data}. Port from BENCH_PORT.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.env.BENCH_PORT);
const sockets = new Map<string, WebSocket>();
const groups = new Map<string, WebSocket[]>();
const READY = Buffer.from('{"type":"ready"}');

const http = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
});
const wss = new WebSocketServer({ server: http, path: '/v1/ws', maxPayload: 128 * 1024 });

wss.on('connection', (ws) => {
  let id: string | undefined;
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { type: string; token?: string; to?: string; group?: string };
    switch (frame.type) {
      case 'send': {
        const peer = sockets.get(frame.to!);
        if (peer) peer.send(data, { binary: false });
        break;
      }
      case 'fanout': {
        // One buffer, serialized once (by the publisher), written to every other member.
        for (const member of groups.get(frame.group!) ?? []) if (member !== ws) member.send(data, { binary: false });
        break;
      }
      case 'auth':
        id = frame.token!;
        sockets.set(id, ws);
        ws.send(READY, { binary: false });
        break;
      case 'join': {
        const list = groups.get(frame.group!) ?? [];
        list.push(ws);
        groups.set(frame.group!, list);
        break;
      }
    }
  });
  ws.on('close', () => {
    if (id !== undefined && sockets.get(id) === ws) sockets.delete(id);
  });
});

http.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
