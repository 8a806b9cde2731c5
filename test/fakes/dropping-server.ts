// An OpenAI-compatible upstream that drops keep-alive connections the way a server's idle timeout does when it fires
// as a request is being written: it reads the request, then closes (FIN) or resets (RST) the connection without a
// byte of answer. node:http cannot be made to do that on cue, so this is a small HTTP/1.1 server on node:net. It
// answers a chat completion (as two SSE chunks when the request streams), keeping the connection open, unless
// `dropWhen` says to drop the request.

import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface DroppedRequest {
  /** 1 for the first request on its connection. */
  readonly onConnection: number;
  /** 1 for the first request the server received. */
  readonly overall: number;
}

export type DropRule = (request: DroppedRequest) => 'answer' | 'close' | 'reset';

export interface DroppingServer {
  readonly url: string;
  /** Every request received, in order, with what was done with it. */
  readonly requests: { connection: number; onConnection: number; outcome: 'answer' | 'close' | 'reset' }[];
  connections(): number;
  close(): Promise<void>;
}

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-dropping', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'answered' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const chunk = (delta: object, finish: string | null) => `data: ${JSON.stringify({ id: 'chatcmpl-dropping', object: 'chat.completion.chunk',
  created: 1_700_000_000, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const STREAM = `${chunk({ role: 'assistant', content: 'ans' }, null)}${chunk({ content: 'wered' }, 'stop')}data: [DONE]\n\n`;
const answer = (type: string, body: string) => `HTTP/1.1 200 OK\r\ncontent-type: ${type}\r\n` +
  `content-length: ${Buffer.byteLength(body)}\r\nconnection: keep-alive\r\n\r\n${body}`;
const JSON_ANSWER = answer('application/json', COMPLETION);
const STREAM_ANSWER = answer('text/event-stream', STREAM);

/** The length of the first complete request in `buffered` (head and content-length body), or 0 if it is not all there. */
function completeRequestLength(buffered: Buffer): number {
  const headEnd = buffered.indexOf('\r\n\r\n');
  if (headEnd < 0) return 0;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(buffered.subarray(0, headEnd).toString('latin1'));
  const total = headEnd + 4 + (length ? Number(length[1]) : 0);
  return buffered.length >= total ? total : 0;
}

export async function startDroppingServer(dropWhen: DropRule): Promise<DroppingServer> {
  const requests: DroppingServer['requests'] = [];
  const sockets = new Set<Socket>();
  let connectionCount = 0;
  const server = createServer((socket) => {
    const connection = ++connectionCount;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let onConnection = 0;
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let length = completeRequestLength(buffered); length > 0; length = completeRequestLength(buffered)) {
        const streamed = /"stream"\s*:\s*true/.test(buffered.subarray(0, length).toString('utf8'));
        buffered = buffered.subarray(length);
        onConnection++;
        const outcome = dropWhen({ onConnection, overall: requests.length + 1 });
        requests.push({ connection, onConnection, outcome });
        if (outcome === 'close') socket.destroy();
        else if (outcome === 'reset') socket.resetAndDestroy();
        else socket.write(streamed ? STREAM_ANSWER : JSON_ANSWER);
        if (outcome !== 'answer') return;
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connectionCount,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
