// A dialect whose wire needs something of the request beyond the chat body it parsed into (the fields a Responses
// answer echoes, the prompt a completion echoes): `parse` returns it beside the chat request, and the wire gets it.

import type { ParsedRequest } from '../pipeline/parse.js';
import { openAIErrorBody } from '../errors/gateway-error.js';
import type { ClientWire, Dialect } from './dialect.js';

export function translatedDialect<Extra>(name: string, defaultProvider: string | null,
  parse: (raw: Buffer | null) => { parsed: ParsedRequest; extra: Extra },
  wire: (parsed: ParsedRequest, extra: Extra) => ClientWire): Dialect {
  // The pipeline hands `wire` the very object `parse` returned, so it is the key until the wire is made.
  const extras = new WeakMap<ParsedRequest, Extra>();
  return Object.freeze<Dialect>({
    name,
    defaultProvider,
    parse(request) {
      const { parsed, extra } = parse(request.body);
      extras.set(parsed, extra);
      return parsed;
    },
    wire(parsed) {
      if (!extras.has(parsed)) throw new Error(`a ${name} wire needs the request its dialect parsed`);
      return wire(parsed, extras.get(parsed) as Extra);
    },
    errorBody: (error) => openAIErrorBody(error),
  });
}
