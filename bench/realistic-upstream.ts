/**
 * A mock of OpenAI's streamed POST /v1/chat/completions with answers shaped like a model's: a few tokens per chunk,
 * between --chunks-min and --chunks-max chunks per answer, --gap-min-ms to --gap-max-ms apart, and a share of the
 * answers (--tool-share) calling a tool, its arguments streamed as small `tool_calls` deltas. The usage chunk comes
 * when the request asks for it, then `data: [DONE]`.
 *
 *   node dist/bench/realistic-upstream.js --port 0 [--chunks-min 200] [--chunks-max 2000] [--gap-min-ms 10]
 *     [--gap-max-ms 30] [--tool-share 0.2] [--partial-first 0]
 *
 * With --partial-first N the first N answers are each a random part of a whole answer (uniform over its length): a
 * bench that opens N streams at once then sees them end, and be replaced, at the steady rate from the start rather
 * than all together one answer later.
 *
 * Prints `LISTENING <port>` once bound; `GET /counters` answers `{"chunks": N, "streams": M}` sent so far.
 */
import { App, type HttpResponse } from 'uWebSockets.js';
import { num, parseFlags } from './args.js';
import { listenAndAnnounce, withHealthAndNotFound } from './serve.js';

const flags = parseFlags(process.argv.slice(2));
const port = num(flags, 'port', 0);
const chunksMin = Math.max(1, Math.floor(num(flags, 'chunks-min', 200)));
const chunksMax = Math.max(chunksMin, Math.floor(num(flags, 'chunks-max', 2000)));
const gapMinMs = Math.max(0, num(flags, 'gap-min-ms', 10));
const gapMaxMs = Math.max(gapMinMs, num(flags, 'gap-max-ms', 30));
const toolShare = Math.min(1, Math.max(0, num(flags, 'tool-share', 0.2)));
const partialFirst = Math.max(0, Math.floor(num(flags, 'partial-first', 0)));

const CREATED = 1_700_000_000;
const MODEL = 'gpt-4o-mini';
const WORDS = ['The', ' gateway', ' forwards', ' each', ' chunk', ' as', ' soon', ' as', ' it', ' arrives', ',', ' and',
  ' the', ' client', ' renders', ' it', '.', ' Tokens', ' are', ' short', ':', ' a', ' word', ' or', ' two', '\n'];
const ARGUMENT_PIECES = ['{"', 'city', '":"', 'Par', 'is', '","', 'unit', '":"', 'cel', 'sius', '","', 'days', '":', '3', '}'];

let sentChunks = 0;
let sentStreams = 0;
let nextId = 0;

const between = (low: number, high: number): number => low + Math.random() * (high - low);

function sse(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** The chunk at `position` of an answer of `total` chunks; the first carries the role, the last the finish reason. */
function chunkAt(id: string, position: number, total: number, tool: boolean): string {
  const base = { id, object: 'chat.completion.chunk', created: CREATED, model: MODEL, system_fingerprint: 'fp_bench' };
  const last = position === total - 1;
  if (last) return sse({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: tool ? 'tool_calls' : 'stop' }] });
  if (!tool) {
    const tokens = 1 + (position % 3);
    let content = '';
    for (let i = 0; i < tokens; i++) content += WORDS[(position * 3 + i) % WORDS.length];
    const delta = position === 0 ? { role: 'assistant', content } : { content };
    return sse({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] });
  }
  if (position === 0) {
    return sse({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: `call_${id}`,
      type: 'function', function: { name: 'get_weather', arguments: '' } }] }, logprobs: null, finish_reason: null }] });
  }
  const piece = ARGUMENT_PIECES[position % ARGUMENT_PIECES.length];
  return sse({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, logprobs: null,
    finish_reason: null }] });
}

function sendStream(res: HttpResponse, aborted: { value: boolean }, usage: boolean): void {
  const partial = sentStreams < partialFirst;
  const whole = Math.round(between(chunksMin, chunksMax));
  const total = partial ? Math.max(1, Math.round(Math.random() * whole)) : whole;
  const tool = Math.random() < toolShare;
  const id = `chatcmpl-${(nextId++).toString(36)}`;
  sentStreams++;
  res.writeHeader('content-type', 'text/event-stream').writeHeader('cache-control', 'no-cache');
  let position = partial ? whole - total : 0;
  const end = whole;
  const tick = (): void => {
    if (aborted.value) return;
    res.cork(() => {
      res.write(chunkAt(id, position, whole, tool));
      sentChunks++;
      position++;
      if (position < end) return;
      if (usage) res.write(sse({ id, object: 'chat.completion.chunk', created: CREATED, model: MODEL, choices: [],
        usage: { prompt_tokens: 120, completion_tokens: whole, total_tokens: 120 + whole } }));
      res.end('data: [DONE]\n\n');
    });
    if (position < end) setTimeout(tick, between(gapMinMs, gapMaxMs));
  };
  setTimeout(tick, between(gapMinMs, gapMaxMs));
}

const app = withHealthAndNotFound(App()
  .get('/counters', (res) => {
    res.writeHeader('content-type', 'application/json').end(JSON.stringify({ chunks: sentChunks, streams: sentStreams }));
  })
  .post('/v1/chat/completions', (res) => {
    const aborted = { value: false };
    res.onAborted(() => {
      aborted.value = true;
    });
    const parts: Buffer[] = [];
    res.onData((chunk, isLast) => {
      parts.push(Buffer.from(new Uint8Array(chunk)));
      if (!isLast) return;
      const body = Buffer.concat(parts).toString('utf8');
      if (!/"stream"\s*:\s*true/.test(body)) {
        res.writeStatus('400 Bad Request').end('{"error":{"message":"this mock only streams","type":"invalid_request_error"}}');
        return;
      }
      sendStream(res, aborted, /"include_usage"\s*:\s*true/.test(body));
    });
  }));

listenAndAnnounce(app, port);
