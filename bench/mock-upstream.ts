/**
 * A fast mock of OpenAI's POST /v1/chat/completions for benchmarks.
 *
 *   node dist/bench/mock-upstream.js --port 0 [--latency-ms 0] [--chunks 20] [--chunk-gap-ms 0] [--status 200]
 *
 * --status 5xx answers every request with that status and an OpenAI-style error body (a failing provider).
 *
 * Prints `LISTENING <port>` once bound. Answers are precomputed so the mock costs as little CPU as possible.
 */
import { App, type HttpResponse } from 'uWebSockets.js';
import { num, parseFlags } from './args.js';
import { listenAndAnnounce, withHealthAndNotFound } from './serve.js';

const flags = parseFlags(process.argv.slice(2));
const port = num(flags, 'port', 0);
const latencyMs = num(flags, 'latency-ms', 0);
const chunkCount = Math.max(1, Math.floor(num(flags, 'chunks', 20)));
const chunkGapMs = num(flags, 'chunk-gap-ms', 0);
const failStatus = Math.floor(num(flags, 'status', 200));
const FAILURE = Buffer.from(JSON.stringify({ error: { message: 'mock failure', type: 'server_error', code: null } }));

const ID = 'chatcmpl-bench';
const CREATED = 1_700_000_000;
const MODEL = 'gpt-4o-mini';
const USAGE = { prompt_tokens: 13, completion_tokens: 17, total_tokens: 30 };

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: ID,
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: "I'm doing well, thank you for asking! How can I help you today?" },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: USAGE,
  }),
);

function sse(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

function streamChunk(i: number): string {
  const last = i === chunkCount - 1;
  const delta = i === 0 ? { role: 'assistant', content: 'Hello' } : last ? {} : { content: ` token${i}` };
  return sse({
    id: ID,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: MODEL,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: last ? 'stop' : null }],
  });
}

const CHUNKS = Array.from({ length: chunkCount }, (_, i) => Buffer.from(streamChunk(i)));
const USAGE_CHUNK = Buffer.from(
  sse({ id: ID, object: 'chat.completion.chunk', created: CREATED, model: MODEL, choices: [], usage: USAGE }),
);
const DONE = Buffer.from('data: [DONE]\n\n');
const BURST = Buffer.concat([...CHUNKS, DONE]);
const BURST_WITH_USAGE = Buffer.concat([...CHUNKS, USAGE_CHUNK, DONE]);
const USAGE_AND_DONE = Buffer.concat([USAGE_CHUNK, DONE]);

/** True when the JSON body has `"<key>": true` at any depth; a scan instead of JSON.parse keeps the mock cheap. */
function hasTrue(body: Buffer, key: string): boolean {
  const at = body.indexOf(`"${key}"`);
  if (at < 0) return false;
  const rest = body.toString('latin1', at + key.length + 2, at + key.length + 16);
  return /^\s*:\s*true/.test(rest);
}

interface Reply {
  aborted: boolean;
}

function sendCompletion(res: HttpResponse): void {
  res.writeHeader('content-type', 'application/json').end(COMPLETION);
}

/** A request whose body holds this `user` is streamed back to back whatever the gap: the load generator's JIT warm-up. */
const MOCK_BURST_USER = Buffer.from('"user":"heimdall-bench-burst"');

function sendStream(res: HttpResponse, reply: Reply, usage: boolean, burst: boolean): void {
  res.writeHeader('content-type', 'text/event-stream').writeHeader('cache-control', 'no-cache');
  if (chunkGapMs <= 0 || burst) {
    // write() keeps chunked framing like the real API; end() then closes the chunked body.
    res.write(usage ? BURST_WITH_USAGE : BURST);
    res.end();
    return;
  }
  // The usage chunk comes with [DONE], as OpenAI's does (it is written once the answer is complete; the realistic
  // mock does the same): sent a gap of its own, a gateway that asks for usage to count tokens while its client did not
  // would be measured a whole gap slower at the end of every stream, for a chunk its client never sees.
  const parts = usage ? [...CHUNKS, USAGE_AND_DONE] : [...CHUNKS, DONE];
  let next = 0;
  const tick = (): void => {
    if (reply.aborted) return;
    res.cork(() => {
      res.write(parts[next++]);
      if (next === parts.length) res.end();
    });
    if (next < parts.length) setTimeout(tick, chunkGapMs);
  };
  tick();
}

function respond(res: HttpResponse, reply: Reply, body: Buffer): void {
  if (failStatus !== 200) {
    res.writeStatus(`${failStatus} Mock Failure`).writeHeader('content-type', 'application/json').end(FAILURE);
    return;
  }
  if (hasTrue(body, 'stream')) sendStream(res, reply, hasTrue(body, 'include_usage'), body.includes(MOCK_BURST_USER));
  else sendCompletion(res);
}

const app = withHealthAndNotFound(App()
  .post('/v1/chat/completions', (res) => {
    const reply: Reply = { aborted: false };
    res.onAborted(() => {
      reply.aborted = true;
    });
    let parts: Buffer[] | null = null;
    res.onData((chunk, isLast) => {
      // uWS reuses `chunk` after this callback returns, so anything kept must be copied.
      if (!isLast) {
        (parts ??= []).push(Buffer.from(new Uint8Array(chunk)));
        return;
      }
      const body = parts ? Buffer.concat([...parts, Buffer.from(chunk)]) : Buffer.from(chunk);
      if (latencyMs <= 0) {
        respond(res, reply, body);
        return;
      }
      const copy = parts ? body : Buffer.from(new Uint8Array(chunk));
      setTimeout(() => {
        if (!reply.aborted) res.cork(() => respond(res, reply, copy));
      }, latencyMs);
    });
  }));

listenAndAnnounce(app, port);
