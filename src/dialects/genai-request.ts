// Google GenAI (Gemini API) requests as OpenAI requests: a GenerateContentRequest becomes a chat request (contents →
// messages, systemInstruction → a system message, functionDeclarations → tools, generationConfig → sampling fields
// and response_format); an embedContent or batchEmbedContents request becomes an embeddings request. The reverse
// of workers/providers/gemini-shared.ts, with the same names: a function call's thought signature rides in the
// tool call's `extra_content.google.thought_signature`, which that adapter hands back to Gemini.
//
// Like Google, unknown fields are refused rather than ignored, so a client never believes a setting took effect
// when it did not. Settings with no OpenAI field (`safetySettings`, `labels`, `generationConfig.mediaResolution`)
// travel in the chat request's `google` object, which the gemini and vertex adapters hand back to Google and every
// other adapter drops and reports; `responseLogprobs` and `logprobs` are OpenAI's `logprobs` and `top_logprobs`. In
// embeddings `taskType` and `title` are accepted and dropped, as documented in the README.

import { GatewayError } from '../errors/gateway-error.js';

type Json = Record<string, unknown>;

const bad = (message: string, param?: string): GatewayError => new GatewayError('INVALID_REQUEST', message, { param: param ?? null });

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown, where: string): Json {
  if (!isObject(value)) throw bad(`'${where}' must be an object`, where);
  return value;
}

function refuseUnknown(object: Json, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(object)) {
    if (!known.has(key)) {
      throw bad(`unknown field '${where ? `${where}.` : ''}${key}' (this gateway translates: ${[...known].join(', ')})`,
        where ? `${where}.${key}` : key);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Schemas

/** Gemini `Schema` keys that JSON Schema spells the same way. */
const SAME_IN_JSON_SCHEMA = new Set(['format', 'title', 'description', 'enum', 'maxItems', 'minItems', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'default', 'minimum', 'maximum']);

/**
 * Gemini's OpenAPI-style `Schema` (upper-case types, `nullable`) as JSON Schema, which every provider takes;
 * `propertyOrdering` and `example` have no JSON Schema meaning and are left out.
 */
export function toJsonSchema(schema: unknown, where: string): Json {
  const source = objectAt(schema, where);
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'type') {
      if (typeof value !== 'string') throw bad(`'${where}.type' must be a string`, `${where}.type`);
      out.type = value.toLowerCase();
    } else if (key === 'properties') {
      const properties: Json = {};
      for (const [name, sub] of Object.entries(objectAt(value, `${where}.properties`))) {
        properties[name] = toJsonSchema(sub, `${where}.properties.${name}`);
      }
      out.properties = properties;
    } else if (key === 'items') {
      out.items = toJsonSchema(value, `${where}.items`);
    } else if (key === 'anyOf') {
      if (!Array.isArray(value)) throw bad(`'${where}.anyOf' must be an array`, `${where}.anyOf`);
      out.anyOf = value.map((sub, i) => toJsonSchema(sub, `${where}.anyOf[${i}]`));
    } else if (SAME_IN_JSON_SCHEMA.has(key)) {
      out[key] = value;
    } else if (key !== 'nullable' && key !== 'propertyOrdering' && key !== 'example') {
      throw bad(`'${where}.${key}' is not a Schema field`, `${where}.${key}`);
    }
  }
  if (source.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else out.anyOf = [...((out.anyOf as Json[] | undefined) ?? []), { type: 'null' }];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Contents

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  extra_content?: { google: { thought_signature: string } };
}

const PART_KEYS = new Set(['text', 'thought', 'thoughtSignature', 'inlineData', 'fileData', 'functionCall',
  'functionResponse']);

/** `inlineData`/`fileData` as an OpenAI content part, chosen by MIME type as gemini-shared.ts reads them back. */
function mediaPart(part: Json, where: string): Json {
  if (part.inlineData !== undefined) {
    const inline = objectAt(part.inlineData, `${where}.inlineData`);
    if (typeof inline.mimeType !== 'string' || typeof inline.data !== 'string') {
      throw bad(`'${where}.inlineData' needs a string mimeType and base64 data`, `${where}.inlineData`);
    }
    const mime = inline.mimeType;
    const audio = /^audio\/(wav|x-wav|mp3|mpeg)$/.exec(mime);
    if (audio) return { type: 'input_audio', input_audio: { data: inline.data, format: audio[1].includes('wav') ? 'wav' : 'mp3' } };
    const url = `data:${mime};base64,${inline.data}`;
    return mime.startsWith('image/') ? { type: 'image_url', image_url: { url } } : { type: 'file', file: { file_data: url } };
  }
  const file = objectAt(part.fileData, `${where}.fileData`);
  if (typeof file.fileUri !== 'string') throw bad(`'${where}.fileData' needs a string fileUri`, `${where}.fileData`);
  const mime = typeof file.mimeType === 'string' ? file.mimeType : '';
  return mime === '' || mime.startsWith('image/') ? { type: 'image_url', image_url: { url: file.fileUri } }
    : { type: 'file', file: { file_data: file.fileUri } };
}

/** Ids for calls the client sent without one, so that the functionResponse that follows can name its call. */
class CallIds {
  #next = 0;
  /** Calls of the last model turn not yet answered, by name, in order. */
  #open = new Map<string, string[]>();

  opened(name: string, id: unknown): string {
    const callId = typeof id === 'string' && id !== '' ? id : `call_${this.#next++}`;
    const list = this.#open.get(name) ?? [];
    list.push(callId);
    this.#open.set(name, list);
    return callId;
  }

  answered(name: string, id: unknown): string {
    const list = this.#open.get(name) ?? [];
    if (typeof id === 'string' && id !== '') {
      const at = list.indexOf(id);
      if (at !== -1) list.splice(at, 1);
      return id;
    }
    const first = list.shift();
    if (first === undefined) throw bad(`a functionResponse for '${name}' answers no earlier functionCall of that name`, 'contents');
    return first;
  }

  newTurn(): void {
    this.#open.clear();
  }
}

function modelTurn(parts: Json[], where: string, ids: CallIds): Json {
  ids.newTurn();
  const content: Json[] = [];
  const toolCalls: ToolCall[] = [];
  const thinkingBlocks: Json[] = [];
  let unsignedThought = '';
  parts.forEach((part, i) => {
    const at = `${where}.parts[${i}]`;
    if (part.functionCall !== undefined) {
      const call = objectAt(part.functionCall, `${at}.functionCall`);
      if (typeof call.name !== 'string' || call.name === '') throw bad(`'${at}.functionCall.name' is required`, `${at}.functionCall`);
      const args = call.args === undefined ? {} : objectAt(call.args, `${at}.functionCall.args`);
      const toolCall: ToolCall = { id: ids.opened(call.name, call.id), type: 'function',
        function: { name: call.name, arguments: JSON.stringify(args) } };
      if (typeof part.thoughtSignature === 'string') toolCall.extra_content = { google: { thought_signature: part.thoughtSignature } };
      toolCalls.push(toolCall);
    } else if (part.thought === true) {
      // A signed thought (a Claude thinking block, as genai-answer.ts writes it) must go back whole: in a streamed
      // answer its text came before, in unsigned pieces, and the signature after, with empty text. Unsigned thoughts
      // alone are left out: no provider needs them, and some (DeepSeek) refuse earlier reasoning in the input.
      const text = typeof part.text === 'string' ? part.text : '';
      if (typeof part.thoughtSignature === 'string') {
        thinkingBlocks.push({ type: 'thinking', thinking: text || unsignedThought, signature: part.thoughtSignature });
        unsignedThought = '';
      } else {
        unsignedThought += text;
      }
    } else if (typeof part.text === 'string') {
      content.push({ type: 'text', text: part.text });
    } else if (part.inlineData !== undefined || part.fileData !== undefined) {
      throw bad(`'${at}': a model turn cannot carry media through this gateway`, at);
    } else {
      throw bad(`'${at}' has no text or functionCall`, at);
    }
  });
  const message: Json = { role: 'assistant', content: textOnly(content) };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (thinkingBlocks.length > 0) message.thinking_blocks = thinkingBlocks;
  return message;
}

/** Text-only content as one string (what every provider takes); anything else as parts. */
function textOnly(content: Json[]): string | Json[] | null {
  if (content.length === 0) return null;
  return content.every((part) => part.type === 'text') ? content.map((part) => part.text as string).join('') : content;
}

function userTurn(parts: Json[], where: string, ids: CallIds): Json[] {
  const toolMessages: Json[] = [];
  const content: Json[] = [];
  parts.forEach((part, i) => {
    const at = `${where}.parts[${i}]`;
    if (part.functionResponse !== undefined) {
      const response = objectAt(part.functionResponse, `${at}.functionResponse`);
      if (typeof response.name !== 'string' || response.name === '') {
        throw bad(`'${at}.functionResponse.name' is required`, `${at}.functionResponse`);
      }
      const result = response.response === undefined ? {} : objectAt(response.response, `${at}.functionResponse.response`);
      toolMessages.push({ role: 'tool', tool_call_id: ids.answered(response.name, response.id), content: JSON.stringify(result) });
    } else if (part.functionCall !== undefined) {
      throw bad(`'${at}': a functionCall belongs in a 'model' turn`, at);
    } else if (part.thought === true) {
      // A user turn's thoughts have no meaning for any provider.
    } else if (typeof part.text === 'string') {
      content.push({ type: 'text', text: part.text });
    } else if (part.inlineData !== undefined || part.fileData !== undefined) {
      content.push(mediaPart(part, at));
    } else {
      throw bad(`'${at}' has no text, media or functionResponse`, at);
    }
  });
  const text = textOnly(content);
  return text === null ? toolMessages : [...toolMessages, { role: 'user', content: text }];
}

function partsOf(content: unknown, where: string): Json[] {
  const parts = objectAt(content, where).parts;
  if (!Array.isArray(parts) || parts.length === 0) throw bad(`'${where}.parts' must be a non-empty array`, `${where}.parts`);
  return parts.map((part, i) => {
    const at = `${where}.parts[${i}]`;
    const object = objectAt(part, at);
    refuseUnknown(object, PART_KEYS, at);
    return object;
  });
}

export function messagesOf(body: Json): Json[] {
  const messages: Json[] = [];
  if (body.systemInstruction !== undefined) {
    const system = typeof body.systemInstruction === 'string' ? body.systemInstruction
      : partsOf(body.systemInstruction, 'systemInstruction').map((part) => (typeof part.text === 'string' ? part.text : '')).join('\n');
    if (system !== '') messages.push({ role: 'system', content: system });
  }
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) throw bad("'contents' must be a non-empty array", 'contents');
  const ids = new CallIds();
  contents.forEach((content, i) => {
    const where = `contents[${i}]`;
    const role = objectAt(content, where).role ?? 'user';
    const parts = partsOf(content, where);
    if (role === 'model') messages.push(modelTurn(parts, where, ids));
    else if (role === 'user' || role === 'function') messages.push(...userTurn(parts, where, ids));
    else throw bad(`'${where}.role' must be 'user' or 'model'`, `${where}.role`);
  });
  return messages;
}

// ---------------------------------------------------------------------------------------------------------------
// Tools

const DECLARATION_KEYS = new Set(['name', 'description', 'parameters', 'parametersJsonSchema', 'response',
  'responseJsonSchema', 'behavior']);

function toolsOf(tools: unknown): Json[] {
  if (!Array.isArray(tools)) throw bad("'tools' must be an array", 'tools');
  const out: Json[] = [];
  tools.forEach((tool, t) => {
    const where = `tools[${t}]`;
    const declarations = objectAt(tool, where).functionDeclarations;
    const others = Object.keys(tool as Json).filter((key) => key !== 'functionDeclarations');
    if (others.length > 0) throw bad(`'${where}.${others[0]}': only functionDeclarations tools pass through this gateway`, `${where}.${others[0]}`);
    if (!Array.isArray(declarations)) throw bad(`'${where}.functionDeclarations' must be an array`, `${where}.functionDeclarations`);
    declarations.forEach((declaration, d) => {
      const at = `${where}.functionDeclarations[${d}]`;
      const fn = objectAt(declaration, at);
      refuseUnknown(fn, DECLARATION_KEYS, at);
      if (typeof fn.name !== 'string' || fn.name === '') throw bad(`'${at}.name' is required`, `${at}.name`);
      if (fn.parameters !== undefined && fn.parametersJsonSchema !== undefined) {
        throw bad(`'${at}': parameters and parametersJsonSchema are mutually exclusive`, at);
      }
      const definition: Json = { name: fn.name };
      if (typeof fn.description === 'string') definition.description = fn.description;
      if (fn.parameters !== undefined) definition.parameters = toJsonSchema(fn.parameters, `${at}.parameters`);
      else if (fn.parametersJsonSchema !== undefined) definition.parameters = objectAt(fn.parametersJsonSchema, `${at}.parametersJsonSchema`);
      out.push({ type: 'function', function: definition });
    });
  });
  return out;
}

function toolChoiceOf(toolConfig: unknown): unknown {
  const outer = objectAt(toolConfig, 'toolConfig');
  refuseUnknown(outer, new Set(['functionCallingConfig']), 'toolConfig');
  const config = objectAt(outer.functionCallingConfig ?? {}, 'toolConfig.functionCallingConfig');
  refuseUnknown(config, new Set(['mode', 'allowedFunctionNames']), 'toolConfig.functionCallingConfig');
  const names = config.allowedFunctionNames;
  if (names !== undefined && (!Array.isArray(names) || !names.every((name) => typeof name === 'string'))) {
    throw bad("'toolConfig.functionCallingConfig.allowedFunctionNames' must be an array of strings", 'toolConfig');
  }
  const allowed = (names as string[] | undefined) ?? [];
  const mode = config.mode ?? 'AUTO';
  if (mode === 'NONE') return 'none';
  if (mode === 'ANY') {
    if (allowed.length === 0) return 'required';
    if (allowed.length === 1) return { type: 'function', function: { name: allowed[0] } };
    return { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: allowed.map((name) => ({ type: 'function', function: { name } })) } };
  }
  // VALIDATED constrains calls to the schema, which OpenAI's `auto` does for strict tools: the nearest mode.
  if (mode === 'AUTO' || mode === 'VALIDATED' || mode === 'MODE_UNSPECIFIED') {
    if (allowed.length === 0) return 'auto';
    return { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: allowed.map((name) => ({ type: 'function', function: { name } })) } };
  }
  throw bad(`'toolConfig.functionCallingConfig.mode' must be AUTO, ANY, NONE or VALIDATED, not ${JSON.stringify(mode)}`, 'toolConfig');
}

// ---------------------------------------------------------------------------------------------------------------
// Generation config

const COPIED: readonly (readonly [string, string])[] = [
  ['temperature', 'temperature'], ['topP', 'top_p'], ['topK', 'top_k'], ['maxOutputTokens', 'max_tokens'],
  ['candidateCount', 'n'], ['seed', 'seed'], ['presencePenalty', 'presence_penalty'], ['frequencyPenalty', 'frequency_penalty'],
];
const GENERATION_KEYS = new Set([...COPIED.map(([from]) => from), 'stopSequences', 'responseMimeType', 'responseSchema',
  'responseJsonSchema', 'thinkingConfig', 'responseModalities', 'responseLogprobs', 'logprobs', 'mediaResolution']);
const MEDIA_RESOLUTIONS = new Set(['MEDIA_RESOLUTION_UNSPECIFIED', 'MEDIA_RESOLUTION_LOW', 'MEDIA_RESOLUTION_MEDIUM',
  'MEDIA_RESOLUTION_HIGH']);

/** The chat request's `google` object (see the top of this file), made when a setting needs it. */
function googleOf(request: Json): Json {
  return (request.google ??= {}) as Json;
}

/** Google's thinking budget as the OpenAI effort the gemini adapter maps back to (nearly) the same budget. */
function effortOf(thinking: Json): string | null {
  refuseUnknown(thinking, new Set(['thinkingBudget', 'thinkingLevel', 'includeThoughts']), 'generationConfig.thinkingConfig');
  if (typeof thinking.thinkingLevel === 'string') {
    const level = thinking.thinkingLevel.toLowerCase();
    if (!['minimal', 'low', 'medium', 'high'].includes(level)) {
      throw bad(`'generationConfig.thinkingConfig.thinkingLevel' must be MINIMAL, LOW, MEDIUM or HIGH`, 'generationConfig.thinkingConfig');
    }
    return level;
  }
  const budget = thinking.thinkingBudget;
  if (budget === undefined || budget === -1) return null;
  if (typeof budget !== 'number' || budget < 0) throw bad("'generationConfig.thinkingConfig.thinkingBudget' must be -1 or ≥ 0", 'generationConfig.thinkingConfig');
  if (budget === 0) return 'none';
  if (budget <= 1024) return 'low';
  return budget <= 8192 ? 'medium' : 'high';
}

function applyGenerationConfig(config: Json, request: Json): void {
  refuseUnknown(config, GENERATION_KEYS, 'generationConfig');
  for (const [from, to] of COPIED) if (config[from] !== undefined && config[from] !== null) request[to] = config[from];
  if (config.stopSequences !== undefined) request.stop = config.stopSequences;
  const modalities = config.responseModalities;
  if (modalities !== undefined && !(Array.isArray(modalities) && modalities.every((m) => m === 'TEXT'))) {
    throw bad("'generationConfig.responseModalities': only TEXT passes through this gateway", 'generationConfig.responseModalities');
  }
  const mime = config.responseMimeType ?? 'text/plain';
  const schema = config.responseJsonSchema ?? (config.responseSchema !== undefined
    ? toJsonSchema(config.responseSchema, 'generationConfig.responseSchema') : undefined);
  if (mime === 'application/json') {
    request.response_format = schema === undefined ? { type: 'json_object' }
      : { type: 'json_schema', json_schema: { name: 'response', schema } };
  } else if (mime !== 'text/plain') {
    throw bad(`'generationConfig.responseMimeType' must be text/plain or application/json, not ${JSON.stringify(mime)}`, 'generationConfig.responseMimeType');
  } else if (schema !== undefined) {
    throw bad("a response schema needs 'generationConfig.responseMimeType': 'application/json'", 'generationConfig.responseMimeType');
  }
  if (config.thinkingConfig !== undefined) {
    const thinking = objectAt(config.thinkingConfig, 'generationConfig.thinkingConfig');
    const effort = effortOf(thinking);
    if (effort !== null) request.reasoning_effort = effort;
    // The effort is the nearest of a few levels, and has no `includeThoughts`: Gemini gets the config as sent.
    googleOf(request).thinkingConfig = thinking;
  }
  // The default said out loud reaches Gemini as said.
  if (config.responseMimeType === 'text/plain') googleOf(request).responseMimeType = 'text/plain';
  if (config.responseLogprobs !== undefined && config.responseLogprobs !== null) {
    if (typeof config.responseLogprobs !== 'boolean') throw bad("'generationConfig.responseLogprobs' must be a boolean", 'generationConfig.responseLogprobs');
    request.logprobs = config.responseLogprobs;
  }
  if (config.logprobs !== undefined && config.logprobs !== null) {
    if (!Number.isInteger(config.logprobs) || (config.logprobs as number) < 0) {
      throw bad("'generationConfig.logprobs' must be a non-negative integer", 'generationConfig.logprobs');
    }
    request.top_logprobs = config.logprobs;
  }
  if (config.mediaResolution !== undefined && config.mediaResolution !== null) {
    if (!MEDIA_RESOLUTIONS.has(config.mediaResolution as string)) {
      throw bad(`'generationConfig.mediaResolution' must be one of ${[...MEDIA_RESOLUTIONS].join(', ')}`, 'generationConfig.mediaResolution');
    }
    googleOf(request).mediaResolution = config.mediaResolution;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

const GENERATE_KEYS = new Set(['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig',
  'safetySettings', 'labels', 'model']);

/** A GenerateContentRequest (whose model is in the URL) as an OpenAI chat request for `model`. */
export function chatRequestOf(body: Json, model: string): Json {
  refuseUnknown(body, GENERATE_KEYS, '');
  const request: Json = { model, messages: messagesOf(body) };
  if (body.tools !== undefined) {
    const tools = toolsOf(body.tools);
    if (tools.length > 0) request.tools = tools;
  }
  if (body.toolConfig !== undefined) request.tool_choice = toolChoiceOf(body.toolConfig);
  if (body.generationConfig !== undefined) applyGenerationConfig(objectAt(body.generationConfig, 'generationConfig'), request);
  if (body.safetySettings !== undefined && body.safetySettings !== null) {
    if (!Array.isArray(body.safetySettings) || !body.safetySettings.every(isObject)) {
      throw bad("'safetySettings' must be a list of {category, threshold}", 'safetySettings');
    }
    googleOf(request).safetySettings = body.safetySettings;
  }
  if (body.labels !== undefined && body.labels !== null) googleOf(request).labels = objectAt(body.labels, 'labels');
  return request;
}

/** countTokens takes `contents` alone, or a whole `generateContentRequest`. */
export function countTokensRequestOf(body: Json, model: string): Json {
  if (body.generateContentRequest !== undefined) {
    if (body.contents !== undefined) throw bad("send either 'contents' or 'generateContentRequest', not both", 'contents');
    return chatRequestOf(objectAt(body.generateContentRequest, 'generateContentRequest'), model);
  }
  refuseUnknown(body, new Set(['contents']), '');
  return chatRequestOf(body, model);
}

const EMBED_KEYS = new Set(['model', 'content', 'taskType', 'title', 'outputDimensionality']);

function embedText(request: Json, where: string): { text: string; dimensions: unknown } {
  refuseUnknown(request, EMBED_KEYS, where);
  const parts = partsOf(request.content, `${where ? `${where}.` : ''}content`);
  if (!parts.every((part) => typeof part.text === 'string')) throw bad('only text can be embedded through this gateway', 'content');
  return { text: parts.map((part) => part.text as string).join(''), dimensions: request.outputDimensionality };
}

/** embedContent (one text) or batchEmbedContents (`requests`) as an OpenAI embeddings request. */
export function embeddingsRequestOf(body: Json, model: string, batch: boolean): Json {
  const items = batch ? body.requests : [body];
  if (batch) refuseUnknown(body, new Set(['requests']), '');
  if (!Array.isArray(items) || items.length === 0) throw bad("'requests' must be a non-empty array", 'requests');
  const texts = items.map((item, i) => embedText(objectAt(item, batch ? `requests[${i}]` : 'body'), batch ? `requests[${i}]` : ''));
  const dimensions = texts[0].dimensions;
  if (texts.some((t) => t.dimensions !== dimensions)) {
    throw bad('every request of a batch must ask for the same outputDimensionality', 'requests');
  }
  const request: Json = { model, input: batch ? texts.map((t) => t.text) : texts[0].text };
  if (dimensions !== undefined) request.dimensions = dimensions;
  return request;
}
