/**
 * What crossing the thread boundary costs in the codec alone: encode and decode of the messages every request sends
 * (the job one way, the result or stream end the other), in nanoseconds, next to msgpackr packing the same logical
 * messages as maps, measured in the same process and interleaved, so the ratio holds on a noisy machine.
 *
 *   node dist/bench/codec.js [--rounds 5] [--iterations 200000]
 */
import { Packr } from 'msgpackr';
import { decodeMessage, encodeMessage, MSG_JOB, MSG_RESULT, MSG_STREAM_END, type FrontToWorker, type WorkerToFront }
  from '../src/contract/messages.js';
import { num, parseFlags } from './args.js';
import { alignedColumns, median } from './report.js';

const flags = parseFlags(process.argv.slice(2));
const rounds = num(flags, 'rounds', 5);
const iterations = num(flags, 'iterations', 200_000);

// The bench's own request and the mock upstream's answer (bench/mock-upstream.ts), as the hot path carries them.
const job: FrontToWorker = [MSG_JOB, 4711, {
  kind: 'chat', requestId: '3f2a9c1e-7b7d-4a3e-9f1e-1c2b3d4e5f60', model: 'gpt-4o-mini', keyIndex: 0, stream: false, modelLabel: 1,
  includeUsage: false, body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hello, how are you today?' }] },
}, 29_998];
const answer = JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created: 1_700_000_000, model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! I am a mock upstream. This answer has a fixed size.' },
    finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 14, total_tokens: 26 },
});
const usage = { promptTokens: 12, completionTokens: 14, totalTokens: 26 };
const result: WorkerToFront = [MSG_RESULT, 4711, 200, answer, { upstreamMs: 0.8125, usage, droppedParams: null }];
const streamEnd: WorkerToFront = [MSG_STREAM_END, 4711, { upstreamMs: 102.5, usage, droppedParams: null, firstTokenMs: 5.25 }];

const maps = new Packr({ useRecords: false, moreTypes: false });
type Message = FrontToWorker | WorkerToFront;
const codecs = {
  'heimdall': { encode: (m: Message) => encodeMessage(m), decode: (b: Uint8Array) => decodeMessage(b) },
  'maps': { encode: (m: Message) => maps.pack(m), decode: (b: Uint8Array) => maps.unpack(b) as unknown },
} as const;

let sink: unknown;
function nsPer(fn: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

const header = ['message', 'bytes', 'encode ns', 'decode ns', 'maps bytes', 'maps encode ns', 'maps decode ns', 'round trip ÷ maps'];
const rows: string[][] = [];
for (const [name, message] of [['job', job], ['result', result], ['stream end', streamEnd]] as const) {
  const figures = Object.values(codecs).map(({ encode, decode }) => {
    const bytes = Uint8Array.from(encode(message));
    const timeEncode = () => nsPer(() => { sink = encode(message); });
    const timeDecode = () => nsPer(() => { sink = decode(bytes); });
    return { bytes: bytes.byteLength, timeEncode, timeDecode, encode: [] as number[], decode: [] as number[] };
  });
  // Warm-up: every codec optimised before any is timed; then the rounds alternate between them.
  for (const figure of figures) {
    figure.timeEncode();
    figure.timeDecode();
  }
  for (let round = 0; round < rounds; round++) {
    for (const figure of figures) {
      figure.encode.push(figure.timeEncode());
      figure.decode.push(figure.timeDecode());
    }
  }
  const [ours, theirs] = figures;
  const [encode, decode, mapsEncode, mapsDecode] = [ours.encode, ours.decode, theirs.encode, theirs.decode].map((ns) => median(ns)!);
  const ratio = (encode + decode) / (mapsEncode + mapsDecode);
  rows.push([name, String(ours.bytes), encode.toFixed(0), decode.toFixed(0), String(theirs.bytes), mapsEncode.toFixed(0),
    mapsDecode.toFixed(0), `${ratio.toFixed(2)}×`]);
}
void sink;
console.log(alignedColumns(header, rows).join('\n'));
console.log(`medians of ${rounds} rounds × ${iterations.toLocaleString('en-US')} iterations; "maps" = msgpackr packing the same messages as they are (objects as maps)`);
