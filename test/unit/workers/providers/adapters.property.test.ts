// Properties of every HTTP adapter's transforms over generated input. Requests the front thread lets through
// (a string model, a non-empty array of messages with string roles; any other field as the client sent it) either
// become a call with a JSON body or are refused with a clear Error; answers, stream events and error bodies of
// any text either parse or fail with a clear Error (the OpenAI-compatible ones forward stream events untouched), and
// errorMessage never throws. A TypeError, ReferenceError
// or RangeError is a bug in the adapter, not a clean refusal: the worker would report "Cannot read properties of
// undefined" to the client.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { ADAPTERS } from '../../../../workers/providers/index.js';
import type { CallTarget, HttpAdapter, StreamState } from '../../../../workers/providers/types.js';

const RUNS = { numRuns: Number(process.env.PROPERTY_RUNS ?? 200) };

const HTTP_ADAPTERS = Object.values(ADAPTERS).filter((adapter): adapter is HttpAdapter => adapter.transport === 'http');

/** A key carrying every provider's own config, so that each adapter gets as far as building its call. */
const target: CallTarget = {
  baseUrl: null,
  key: {
    value: 'sk-property',
    configs: {
      azure_key_config: { endpoint: 'https://example.openai.azure.com', deployments: { 'gpt-4o': 'prod-4o' } },
      bedrock_key_config: { access_key: 'AKID', secret_key: 'secret', region: 'eu-central-1' },
      vertex_key_config: { project_id: 'p', region: 'us-central1', auth_credentials: { type: 'service_account' } },
    },
  },
};

/** Holds a thrown value to the contract: an Error with a message, and not one of the kinds that betray a bug. */
function expectCleanError(error: unknown): void {
  expect(error).toBeInstanceOf(Error);
  expect(error).not.toBeInstanceOf(TypeError);
  expect(error).not.toBeInstanceOf(ReferenceError);
  expect(error).not.toBeInstanceOf(RangeError);
  expect((error as Error).message.length).toBeGreaterThan(0);
}

function cleanly<T>(run: () => T): T | null {
  try {
    return run();
  } catch (error) {
    expectCleanError(error);
    return null;
  }
}

const text = fc.string({ maxLength: 40 });
const contentPart = fc.oneof(
  fc.record({ type: fc.constant('text'), text }),
  fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.oneof(fc.webUrl(), fc.constant('data:image/png;base64,iVBORw0KGgo=')) }) }),
  fc.record({ type: text, text: fc.anything() }, { requiredKeys: ['type'] }),
);
const toolCall = fc.record({
  id: text, type: fc.constant('function'),
  function: fc.record({ name: text, arguments: fc.oneof(fc.json(), text) }),
});
const message = fc.record({
  role: fc.oneof(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'), text),
  content: fc.oneof(text, fc.constant(null), fc.array(fc.oneof(contentPart, fc.constant(null)), { maxLength: 3 }), fc.anything()),
  name: text,
  tool_calls: fc.oneof(fc.array(fc.oneof(toolCall, fc.constant(null)), { maxLength: 2 }), fc.anything()),
  tool_call_id: fc.oneof(text, fc.anything()),
}, { requiredKeys: ['role'] });
const tool = fc.oneof(
  fc.record({ type: fc.constant('function'), function: fc.record({ name: text, description: text,
    parameters: fc.oneof(fc.constant({ type: 'object', properties: {} }), fc.dictionary(text, fc.jsonValue())) }, { requiredKeys: ['name'] }) }),
  fc.anything(),
);
/** Chat requests as the front thread passes them: model and messages well-typed, everything else anything. */
const chatBody = fc.record({
  model: text,
  messages: fc.array(message, { minLength: 1, maxLength: 4 }),
  functions: fc.anything(),
  function_call: fc.anything(),
  temperature: fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), fc.anything()),
  top_p: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.anything()),
  max_tokens: fc.oneof(fc.nat(), fc.anything()),
  max_completion_tokens: fc.oneof(fc.nat(), fc.anything()),
  stop: fc.oneof(text, fc.array(text, { maxLength: 3 }), fc.anything()),
  tools: fc.oneof(fc.array(fc.oneof(tool, fc.constant(null)), { maxLength: 2 }), fc.anything()),
  tool_choice: fc.oneof(fc.constantFrom('auto', 'none', 'required'), fc.record({ type: fc.constant('function'),
    function: fc.record({ name: text }) }), fc.anything()),
  response_format: fc.oneof(fc.record({ type: fc.constantFrom('text', 'json_object', 'json_schema') }), fc.anything()),
  seed: fc.anything(),
  user: fc.anything(),
  n: fc.anything(),
}, { requiredKeys: ['model', 'messages'] });

const chatJob = fc.record({ body: chatBody, stream: fc.boolean(), includeUsage: fc.boolean(), model: fc.constantFrom('gpt-4o', 'm') })
  .map(({ body, stream, includeUsage, model }): JobData => ({ modelLabel: 0,
    kind: 'chat', requestId: 'r-prop', model, keyIndex: 0, stream, includeUsage: stream && includeUsage,
    body: { ...body, ...(stream ? { stream: true } : {}) },
  }));

/** Keys the providers' answers and events use, so that generated JSON reaches deep into the parsers. */
const UPSTREAM_KEYS = ['choices', 'usage', 'candidates', 'content', 'message', 'output', 'type', 'delta', 'error', 'index', 'text',
  'parts', 'tool_calls', 'function', 'name', 'arguments', 'stopReason', 'finish_reason', 'finishReason', 'contentBlockIndex', 'start',
  'toolUse', 'id', 'model', 'promptFeedback', 'usageMetadata', 'content_block', 'thinking', 'functionCall', 'tool_plan', 'stop_reason',
  'input', 'partial_json', 'data', 'embeddings', 'embedding', 'message_start', 'metrics'];
const upstreamShaped = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  object: fc.dictionary(fc.constantFrom(...UPSTREAM_KEYS), tie('value'), { maxKeys: 5 }),
})).object;

/** Text an upstream might send: JSON shaped like theirs, JSON of any shape, JSON cut short, or anything at all. */
const upstreamText = fc.oneof(
  upstreamShaped.map((value) => JSON.stringify(value)),
  fc.json(),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.record({ choices: fc.anything(), usage: fc.anything(), candidates: fc.anything(), content: fc.anything(),
    message: fc.anything(), output: fc.anything(), type: text, delta: fc.anything(), error: fc.anything() },
  { requiredKeys: [] }).map((value) => JSON.stringify(value)),
  fc.tuple(fc.json(), fc.nat()).map(([json, cut]) => json.slice(0, cut % (json.length + 1))),
  fc.string(),
);

describe.each(HTTP_ADAPTERS.map((adapter) => [adapter.id, adapter] as const))('%s adapter, over generated input', (_id, adapter) => {
  it('chatCall: a call with a JSON body, or a clean Error', () => {
    fc.assert(fc.property(chatJob, (job) => {
      const call = cleanly(() => adapter.chatCall(job, target));
      if (!call) return;
      expect(call.url).toMatch(/^https?:\/\//);
      expect(() => JSON.parse(call.body)).not.toThrow();
      expect(Array.isArray(call.droppedParams)).toBe(true);
    }), RUNS);
  });

  it('chatAnswer: an answer whose body is JSON, or a clean Error', () => {
    fc.assert(fc.property(chatJob, upstreamText, (job, answerText) => {
      const answer = cleanly(() => adapter.chatAnswer(answerText, job));
      if (answer) expect(() => JSON.parse(answer.body)).not.toThrow();
    }), RUNS);
  });

  it('streamEvent: JSON chunks, or a clean Error, event after event', () => {
    const event = fc.record({ event: fc.oneof(fc.constant(null), fc.constantFrom('message_start', 'content_block_delta', 'error',
      'message_delta', 'message_stop', 'chunk', 'messageStart', 'contentBlockDelta', 'metadata',
      // Names of Object.prototype members: an adapter's lookup table must not answer for them.
      'toString', 'constructor', '__proto__'), text), data: upstreamText });
    fc.assert(fc.property(fc.array(event, { minLength: 1, maxLength: 6 }), fc.boolean(), (events, includeUsage) => {
      const state: StreamState = { includeUsage, model: 'm', usage: null, scratch: {} };
      for (const each of events) {
        const step = cleanly(() => adapter.streamEvent(each, state));
        if (!step) return;
        // OpenAI-compatible adapters forward an event's data untouched (no parse on the hot path) once it looks
        // like a whole object; the others build their chunks, which must be JSON.
        for (const chunk of step.chunks) {
          if (chunk === each.data) expect(chunk.trim()).toMatch(/^\{[^]*\}$/);
          else expect(() => JSON.parse(chunk)).not.toThrow();
        }
        if (step.error) expect(step.error.status).toBeGreaterThanOrEqual(400);
      }
    }), RUNS);
  });

  it('errorMessage: a string or null, never a throw', () => {
    fc.assert(fc.property(upstreamText, (body) => {
      const message = adapter.errorMessage(body);
      expect(message === null || typeof message === 'string').toBe(true);
    }), RUNS);
  });
});
