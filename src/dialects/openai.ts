// OpenAI's own API: the pipeline's shape, so the wire only frames chunks as SSE `data:` lines.

import { openAIErrorBody } from '../errors/gateway-error.js';
import { parseChatRequest, parseEmbeddingsRequest } from '../pipeline/parse.js';
import { withExtraFieldsOn, type ClientWire, type Dialect } from './dialect.js';

export const SSE_DONE = 'data: [DONE]\n\n';

export const sseData = (data: string): string => `data: ${data}\n\n`;

/** Stateless, so every request shares it. */
export const OPENAI_WIRE = Object.freeze<ClientWire>({
  answer: (body: string) => body,
  errorBody: openAIErrorBody,
  streamContentType: 'text/event-stream; charset=utf-8',
  chunk: sseData,
  end: () => SSE_DONE,
  streamError: (error) => sseData(openAIErrorBody(error)),
});

function openAIDialect(name: string, parse: Dialect['parse'], defaultProvider: string | null): Dialect {
  return Object.freeze<Dialect>({
    name,
    defaultProvider,
    parse,
    wire: () => OPENAI_WIRE,
    errorBody: (error) => openAIErrorBody(error),
  });
}

const parseChat: Dialect['parse'] = (request) => parseChatRequest(request.body);
const parseEmbeddings: Dialect['parse'] = (request) => parseEmbeddingsRequest(request.body);

/** `/v1/...`: every model is `provider/model` (or a configured alias). */
export const openAIChat = withExtraFieldsOn(openAIDialect('openai', parseChat, null), 'chat_completion', true);
export const openAIEmbeddings = withExtraFieldsOn(openAIDialect('openai', parseEmbeddings, null), 'embedding');

/** `/openai/v1/...`: the OpenAI SDK's drop-in, where a bare model name means the `openai` provider. */
export const openAIDropInChat = openAIDialect('openai', parseChat, 'openai');
export const openAIDropInEmbeddings = openAIDialect('openai', parseEmbeddings, 'openai');
