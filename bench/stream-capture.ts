/**
 * What the request log's capture of a streamed answer costs the front thread while streams are open: the heap it
 * holds per open stream (measured after a full GC) and its CPU per chunk and at the stream's end, this build against
 * another one's `request-log.js` in the same process, the builds alternating round by round. Each of `--streams`
 * captures takes the first `--chunks` chunks of an answer shaped like a model's (chat.completion.chunk JSON as OpenAI
 * sends it, a few tokens per chunk, a fifth of the answers a tool call's arguments), streams interleaved as a gateway
 * sees them; then every capture makes its answer, as the log does when a response completes.
 *
 *   npm run build && node dist/bench/stream-capture.js --before OTHER/dist/src/observability/request-log.js
 *     [--streams 1000] [--chunks 550] [--rounds 3]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ContentCapture } from '../src/observability/request-log.js';
import { num, parseFlags, str } from './args.js';
import { alignedColumns, median, range } from './report.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const flags = parseFlags(process.argv.slice(2));
const streams = num(flags, 'streams', 1000);
const chunks = num(flags, 'chunks', 550);
const rounds = num(flags, 'rounds', 3);
const beforePath = str(flags, 'before', '');
if (!beforePath) throw new Error('--before OTHER/dist/src/observability/request-log.js is required');
const before = (await import(pathToFileURL(resolve(beforePath)).href)) as { ContentCapture: typeof ContentCapture };
const builds = { before: before.ContentCapture, after: ContentCapture };

const WORDS = [' The', ' weather', ' in', ' Paris', ' will', ' be', ' mild,', ' with', ' light', ' rain', ' on', ' Tuesday', '.'];
const envelope = (stream: number) =>
  `{"id":"chatcmpl-${stream}x7Qz","object":"chat.completion.chunk","created":1733000000,"model":"gpt-4o-mini-2024-07-18",`
  + '"system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":';
const ending = ',"logprobs":null,"finish_reason":null}],"usage":null}';
const isToolCall = (stream: number) => stream % 5 === 0;

/** Chunk `i` of stream `stream`, as OpenAI frames it: the role first, then a token or two of text or arguments. */
function chunk(stream: number, i: number): string {
  if (i === 0) {
    return envelope(stream) + (isToolCall(stream)
      ? `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_${stream}","type":"function","function":{"name":"get_weather","arguments":""}}]}`
      : '{"role":"assistant","content":""}') + ending;
  }
  const piece = WORDS[i % WORDS.length] + (i % 3 === 0 ? WORDS[(i + 5) % WORDS.length] : '');
  return envelope(stream) + (isToolCall(stream)
    ? `{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(JSON.stringify(piece).slice(1, -1))}}}]}`
    : `{"content":${JSON.stringify(piece)}}`) + ending;
}

const cpuUs = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

interface Round { kibPerStream: number; usPerChunk: number; usPerEnd: number; answerChars: number }

function measure(Capture: typeof ContentCapture): Round {
  gc();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let open: ContentCapture[] = Array.from({ length: streams }, () => new Capture(null, undefined));
  const chunkStart = cpuUs();
  for (let i = 0; i < chunks; i++) for (let s = 0; s < streams; s++) open[s].chunk(chunk(s, i));
  const chunkCpu = cpuUs() - chunkStart;
  gc();
  gc();
  const held = process.memoryUsage().heapUsed - heapBefore;
  const endStart = cpuUs();
  let answerChars = 0;
  for (const capture of open) answerChars += capture.answerText()?.length ?? 0;
  const endCpu = cpuUs() - endStart;
  open = [];
  return { kibPerStream: held / 1024 / streams, usPerChunk: chunkCpu / (streams * chunks), usPerEnd: endCpu / streams,
    answerChars: answerChars / streams };
}

// A chunk's own making (the string the worker's message would have been decoded into) is in both builds' CPU alike.
const results: Record<string, Round[]> = { before: [], after: [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
  for (const name of order) {
    const result = measure(builds[name]);
    results[name].push(result);
    console.log(`round ${round + 1} ${name}: ${result.kibPerStream.toFixed(1)} KiB held per open stream, `
      + `${result.usPerChunk.toFixed(2)} µs a chunk, ${result.usPerEnd.toFixed(1)} µs at the end, ${result.answerChars.toFixed(0)} characters answered`);
  }
}
const metrics = { kibPerStream: 'KiB held per open stream', usPerChunk: 'CPU µs a chunk', usPerEnd: 'CPU µs at the end' } as const;
console.log(`\n${streams} open streams, ${chunks} chunks each, ${rounds} rounds: median (range)`);
const cell = (values: number[]) => {
  const [lo, hi] = range(values) as [number, number];
  return `${(median(values) as number).toFixed(2)} (${lo.toFixed(2)}–${hi.toFixed(2)})`;
};
const rows = Object.entries(results).map(([name, runs]) =>
  [name, ...Object.keys(metrics).map((key) => cell(runs.map((run) => run[key as keyof typeof metrics])))]);
for (const line of alignedColumns(['build', ...Object.values(metrics)], rows)) console.log(line);
console.log(JSON.stringify({ streams, chunks, rounds, results }));
