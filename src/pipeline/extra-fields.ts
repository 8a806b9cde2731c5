// Bifrost's `extra_fields` on /v1 answers, for clients written against Bifrost that read them:
//   "extra_fields": {"request_type": "chat_completion", "provider": "openai", "model_requested": "gpt-4o-mini",
//                    "latency": 412, "chunk_index": 0, "fallback_index": 0}
// as Bifrost's BifrostResponseExtraFields writes them (core/schemas): `request_type` with `_stream` for a streamed
// request, `provider` and `model_requested` of the attempt that answered, `latency` in whole milliseconds since the
// request arrived (on a stream, at each chunk: the last one's is the total), `chunk_index` counting a stream's
// chunks from 0. `fallback_index` (0: the primary answered) is Heimdall's: Bifrost keeps it in its logs only.
// The object is spliced into the JSON text before its closing brace: no parse, no re-serialisation.

import type { ClientWire } from '../dialects/dialect.js';

export interface ExtraFieldsOf {
  readonly requestType: string;
  readonly provider: string;
  readonly model: string;
  readonly receivedAt: number;
  readonly fallbackIndex: number;
  /** Also on each chunk, which the wire writes as it gets it (OpenAI's chat chunks). */
  readonly chunks: boolean;
}

/** `json` with `,"extra_fields":…` before its last `}`; text that is not a JSON object is left as it is. */
export function spliceExtraFields(json: string, fields: string): string {
  const end = json.lastIndexOf('}');
  if (end < 1 || json.charCodeAt(0) !== 0x7b) return json;
  // An empty object takes the member without a comma; only the whitespace before the brace is read.
  let before = end - 1;
  while (before > 0 && /\s/.test(json[before])) before--;
  const empty = before === 0;
  return `${json.slice(0, end)}${empty ? '' : ','}"extra_fields":${fields}${json.slice(end)}`;
}

/** The wire of one attempt, with `extra_fields` on its answer (and chunks). */
export function withExtraFields(wire: ClientWire, of: ExtraFieldsOf, stream: boolean): ClientWire {
  // Everything but the latency and the chunk index is known now: written once per attempt.
  const head = `{"request_type":"${of.requestType}${stream ? '_stream' : ''}","provider":${JSON.stringify(of.provider)},`
    + `"model_requested":${JSON.stringify(of.model)},"latency":`;
  const tail = `,"fallback_index":${of.fallbackIndex}}`;
  const fields = (chunkIndex: number) =>
    `${head}${Math.round(performance.now() - of.receivedAt)},"chunk_index":${chunkIndex}${tail}`;
  let chunkIndex = 0;
  // Delegates rather than spreads: a wire may be a class instance, its methods on the prototype and its state in it.
  return {
    answer: (body) => spliceExtraFields(wire.answer(body), fields(0)),
    errorBody: (error, attempts) => wire.errorBody(error, attempts),
    ...(wire.errorHeaders ? { errorHeaders: (error: Parameters<ClientWire['errorBody']>[0]) => wire.errorHeaders!(error) } : {}),
    streamContentType: wire.streamContentType,
    chunk: of.chunks ? (chunk) => wire.chunk(spliceExtraFields(chunk, fields(chunkIndex++))) : (chunk) => wire.chunk(chunk),
    end: () => wire.end(),
    streamError: (error) => wire.streamError(error),
  };
}
