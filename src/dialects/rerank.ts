// Rerank: `/v1/rerank` (Bifrost's shape, `provider/model`), Cohere's `/cohere/v2/rerank` (routed with Cohere's
// other routes, src/dialects/cohere.ts) and the Bedrock Agent
// Runtime's `/bedrock/rerank`. Each parses its API's request into one RerankRequest (the query and the documents'
// texts) and writes the job's RerankAnswer back in its API's shape; the providers with a rerank API (capability
// `rerank`: Cohere, Bedrock, Vertex, the Jina-style servers) translate that job in their adapters. Documents are
// added back to the answer here, from the request, for a client that asks for them.

import type { RerankAnswer, RerankRequest } from '../contract/messages.js';
import { GatewayError, openAIErrorBody } from '../errors/gateway-error.js';
import type { ErrorData } from '../errors/error-data.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { parseJsonObjectBody, type ParsedRequest } from '../pipeline/parse.js';
import type { Route, RouteHandler } from '../http/server.js';
import { bedrockErrorBody, bedrockErrorHeaders } from './bedrock-wire.js';
import { withExtraFieldsOn, type ClientWire, type Dialect } from './dialect.js';
import { OPENAI_WIRE } from './openai.js';

type Fields = Record<string, unknown>;

function invalid(message: string, param: string): never {
  throw new GatewayError('INVALID_REQUEST', message, { param });
}

const present = (value: unknown): boolean => value !== undefined && value !== null;

/** A document as a string, or Bifrost's and Jina's `{text}` object. */
function documentText(document: unknown, index: number): string {
  if (typeof document === 'string') return document;
  if (typeof document === 'object' && document !== null && typeof (document as Fields).text === 'string') return (document as Fields).text as string;
  return invalid(`documents[${index}] must be a string or an object with a string 'text'`, `documents[${index}]`);
}

function checkTopN(value: unknown, param: string): void {
  if (present(value) && !(Number.isInteger(value) && (value as number) > 0)) invalid(`'${param}' must be a positive integer`, param);
}

interface RerankParse {
  model: string;
  request: RerankRequest;
  returnDocuments: boolean;
}

/** What every rerank API holds: a model, a non-empty query, and a non-empty list of documents. */
function rerankOf(model: unknown, query: unknown, documents: unknown, modelHint: string): { model: string; query: string; documents: string[] } {
  if (typeof model !== 'string' || model === '') invalid(`'model' is required and must be a non-empty string, like ${modelHint}`, 'model');
  if (typeof query !== 'string' || query === '') invalid("'query' is required and must be a non-empty string", 'query');
  if (!Array.isArray(documents) || documents.length === 0) invalid("'documents' must be a non-empty array", 'documents');
  return { model, query, documents: documents.map(documentText) };
}

/** `/v1/rerank`: Bifrost's request, its options at the top level or under `params`. */
function parseV1(raw: Buffer | null): RerankParse {
  const body = parseJsonObjectBody(raw);
  const params = body.params;
  if (present(params) && (typeof params !== 'object' || Array.isArray(params))) invalid("'params' must be an object", 'params');
  const { model, query, documents, fallbacks, return_documents: topReturn, ...options } = body;
  delete options.params;
  const all: Fields = { ...options, ...(params as Fields | undefined) };
  const returnDocuments = (params as Fields | undefined)?.return_documents ?? topReturn;
  delete all.return_documents;
  if (present(returnDocuments) && typeof returnDocuments !== 'boolean') invalid("'return_documents' must be a boolean", 'return_documents');
  checkTopN(all.top_n, 'top_n');
  const base = rerankOf(model, query, documents, '"cohere/rerank-v3.5"');
  return { model: base.model, request: { ...all, query: base.query, documents: base.documents, ...(present(fallbacks) ? { fallbacks } : {}) },
    returnDocuments: returnDocuments === true };
}

/** `/cohere/v2/rerank`: Cohere's request (v1's `return_documents` still honoured). */
function parseCohere(raw: Buffer | null): RerankParse {
  const body = parseJsonObjectBody(raw);
  const { model, query, documents, return_documents: returnDocuments, ...options } = body;
  checkTopN(options.top_n, 'top_n');
  if (present(returnDocuments) && typeof returnDocuments !== 'boolean') invalid("'return_documents' must be a boolean", 'return_documents');
  const base = rerankOf(model, query, documents, '"rerank-v3.5"');
  return { model: base.model, request: { ...options, query: base.query, documents: base.documents }, returnDocuments: returnDocuments === true };
}

const FOUNDATION_MODEL_ARN = /^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:foundation-model\/(.+)$/;

/** `/bedrock/rerank`: the Agent Runtime's Rerank request; the model is named by its ARN (or a `provider/model` in its place). */
function parseBedrock(raw: Buffer | null): RerankParse {
  const body = parseJsonObjectBody(raw);
  const queries = body.queries as Fields[] | undefined;
  if (!Array.isArray(queries) || queries.length !== 1) invalid("'queries' must hold exactly one query", 'queries');
  const query = queries[0]?.type === 'TEXT' ? (queries[0].textQuery as Fields | undefined)?.text : undefined;
  if (typeof query !== 'string') invalid("the query must be {\"type\": \"TEXT\", \"textQuery\": {\"text\": …}}", 'queries[0]');
  const sources = body.sources;
  if (!Array.isArray(sources)) invalid("'sources' must be an array of inline documents", 'sources');
  const documents = sources.map((source: unknown, index) => {
    const inline = (source as Fields | null)?.inlineDocumentSource as Fields | undefined;
    const text = (source as Fields | null)?.type === 'INLINE' && inline?.type === 'TEXT' ? (inline.textDocument as Fields | undefined)?.text : undefined;
    if (typeof text !== 'string') {
      invalid(`sources[${index}] must be an INLINE source with a TEXT document (JSON documents are not supported)`, `sources[${index}]`);
    }
    return text;
  });
  const configuration = (body.rerankingConfiguration as Fields | undefined)?.bedrockRerankingConfiguration as Fields | undefined;
  const modelConfiguration = configuration?.modelConfiguration as Fields | undefined;
  const arn = modelConfiguration?.modelArn;
  if (typeof arn !== 'string' || arn === '') {
    invalid("'rerankingConfiguration.bedrockRerankingConfiguration.modelConfiguration.modelArn' is required", 'rerankingConfiguration');
  }
  checkTopN(configuration?.numberOfResults, 'numberOfResults');
  const base = rerankOf(FOUNDATION_MODEL_ARN.exec(arn)?.[1] ?? arn, query, documents, 'a foundation model ARN');
  const request: RerankRequest = { query: base.query, documents: base.documents };
  if (present(configuration?.numberOfResults)) request.top_n = configuration!.numberOfResults as number;
  if (present(modelConfiguration?.additionalModelRequestFields)) {
    request.additional_model_request_fields = modelConfiguration!.additionalModelRequestFields;
  }
  // Bedrock answers with the documents unless told otherwise; so does the gateway.
  return { model: base.model, request, returnDocuments: true };
}

function answerOf(body: string): RerankAnswer {
  return JSON.parse(body) as RerankAnswer;
}

function rerankDialect(name: string, defaultProvider: string | null, parse: (raw: Buffer | null) => RerankParse,
  answer: (result: RerankAnswer, parsed: RerankParse) => unknown, errorBody: (error: ErrorData) => string,
  errorHeaders?: (error: ErrorData) => Record<string, string>): Dialect {
  // The pipeline hands `wire` the very object `parse` returned.
  const parses = new WeakMap<ParsedRequest, RerankParse>();
  return Object.freeze<Dialect>({
    name,
    defaultProvider,
    parse(request) {
      const rerank = parse(request.body);
      const parsed: ParsedRequest = { kind: 'rerank', body: { ...rerank.request, model: rerank.model } as unknown as ChatRequestBody,
        stream: false, includeUsage: false };
      parses.set(parsed, rerank);
      return parsed;
    },
    wire(parsed): ClientWire {
      const rerank = parses.get(parsed);
      if (!rerank) throw new Error(`a ${name} wire needs the request its dialect parsed`);
      return { ...OPENAI_WIRE, errorBody, ...(errorHeaders ? { errorHeaders } : {}),
        answer: (body) => JSON.stringify(answer(answerOf(body), rerank)) };
    },
    errorBody,
    ...(errorHeaders ? { errorHeaders } : {}),
  });
}

const withDocument = (parsed: RerankParse, index: number) =>
  (parsed.returnDocuments ? { document: { text: parsed.request.documents[index] } } : {});

/** `/v1/rerank`: a `provider/model`; the answer as Bifrost's, with the requested model and the token usage. */
export const v1Rerank = withExtraFieldsOn(rerankDialect('rerank', null, parseV1, (result, parsed) => ({
  id: result.id,
  object: 'rerank',
  model: parsed.model,
  results: result.results.map((item) => ({ ...item, ...withDocument(parsed, item.index) })),
  usage: result.usage,
}), (error) => openAIErrorBody(error)), 'rerank');

/** Cohere's error body: `{"message"}`, which the cohere-ai SDK puts in its error. */
export const cohereErrorBody = (error: ErrorData): string => JSON.stringify({ message: error.message });

/** `/cohere/v2/rerank`: a bare model goes to `cohere`. */
export const cohereRerank = rerankDialect('cohere', 'cohere', parseCohere, (result, parsed) => ({
  id: result.id,
  results: result.results.map((item) => ({ ...item, ...withDocument(parsed, item.index) })),
  meta: { api_version: { version: '2' }, billed_units: { search_units: result.usage.search_units ?? 1 } },
}), cohereErrorBody);

/** `/bedrock/rerank`: a model ARN goes to `bedrock`. */
export const bedrockRerank = rerankDialect('bedrock', 'bedrock', parseBedrock, (result, parsed) => ({
  results: result.results.map((item) => ({ index: item.index, relevanceScore: item.relevance_score,
    ...(parsed.returnDocuments ? { document: { type: 'TEXT', textDocument: { text: parsed.request.documents[item.index] } } } : {}) })),
}), (error) => bedrockErrorBody(error), bedrockErrorHeaders);

/** The rerank routes but Cohere's, each with the handler the pipeline built for its dialect. */
export function rerankRoutes(handlerFor: (dialect: Dialect) => RouteHandler): Route[] {
  return [
    { method: 'post', path: '/v1/rerank', readBody: true, handler: handlerFor(v1Rerank) },
    { method: 'post', path: '/bedrock/rerank', readBody: true, handler: handlerFor(bedrockRerank),
      errorBody: bedrockRerank.errorBody, errorHeaders: bedrockErrorHeaders },
  ];
}
