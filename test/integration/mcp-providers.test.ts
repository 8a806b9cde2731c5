// MCP tools as each provider's fake receives them, through the real gateway: OpenAI's chat tools and Responses tools,
// Anthropic's `input_schema` tools, Gemini's `functionDeclarations`, Bedrock's `toolSpec`s; from each client route
// (chat completions, Responses, Anthropic messages, GenAI, Bedrock converse); and the agent loop from routes that
// are not chat completions, which go through the chat translation so the loop can read the answers.

import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic-server.js';
import { startFakeBedrock, type FakeBedrock } from '../fakes/bedrock-server.js';
import { startFakeGemini, type FakeGemini } from '../fakes/gemini-server.js';
import { FakeCatalog } from '../fakes/mcp-catalog.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { newClient, openaiProvider } from './harness.js';

const CREDENTIALS = { accessKeyId: 'AKIDMCPTEST', secretAccessKey: 'mcp/test+secret' };
const REGION = 'eu-west-3';
const SCHEMA = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
/** Only the tool that may not run alone: the request is not in agent mode, so native attempts stay native. */
const MANUAL_ONLY = { 'x-bf-mcp-include-tools': 'files_read' };

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let bedrock: FakeBedrock;
let gateway: Gateway;
let url: string;
let client: OpenAI;
const catalog = new FakeCatalog([
  { client: 'weather', tool: 'forecast', inputSchema: SCHEMA, autoExecute: true,
    run: (args) => ({ content: `sunny in ${String(args.city)}`, isError: false }) },
  { client: 'files', tool: 'read', inputSchema: { type: 'object', properties: { path: { type: 'string' } } } },
]);

beforeAll(async () => {
  [openai, anthropic, gemini, bedrock] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini(),
    startFakeBedrock({ credentials: [CREDENTIALS], region: REGION })]);
  const network = (base: string) => ({ base_url: base, default_request_timeout_in_seconds: 30 });
  const config = await loadConfig({
    raw: { providers: {
      openai: openaiProvider(openai.url),
      anthropic: { keys: [{ value: 'sk-ant', models: ['*'], weight: 1 }], network_config: network(anthropic.url) },
      gemini: { keys: [{ value: 'AIza-test', models: ['*'], weight: 1 }], network_config: network(gemini.url) },
      bedrock: { keys: [{ models: ['*'], bedrock_key_config: { access_key: CREDENTIALS.accessKeyId,
        secret_key: CREDENTIALS.secretAccessKey, region: REGION } }], network_config: network(bedrock.url) },
    } },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  gateway = await startGateway(config, { logger: pino({ level: 'silent' }), mcpCatalog: catalog });
  url = `http://127.0.0.1:${gateway.port}`;
  client = newClient(url);
});

afterAll(async () => {
  await gateway?.close(500);
  await Promise.all([openai?.close(), anthropic?.close(), gemini?.close(), bedrock?.close()]);
});

beforeEach(() => {
  for (const fake of [openai, anthropic, gemini, bedrock]) fake.reset();
  catalog.calls.length = 0;
});

const ask = (model: string, headers: Record<string, string> = {}) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }, { headers });

describe('each provider receives the MCP tools in its own format', () => {
  it('OpenAI chat: function tools', async () => {
    await ask('openai/gpt-4o-mini', MANUAL_ONLY);
    expect(openai.requests[0].body!.tools).toEqual([{ type: 'function', function: { name: 'files_read', description: 'read of files',
      parameters: { type: 'object', properties: { path: { type: 'string' } } } } }]);
  });

  it('Anthropic: name, description, input_schema', async () => {
    await ask('anthropic/claude-sonnet-4-5');
    expect(anthropic.requests[0].body!.tools).toEqual([
      { name: 'weather_forecast', description: 'forecast of weather', input_schema: SCHEMA },
      { name: 'files_read', description: 'read of files', input_schema: { type: 'object', properties: { path: { type: 'string' } } } },
    ]);
  });

  it('Gemini: functionDeclarations', async () => {
    await ask('gemini/gemini-2.0-flash');
    const tools = (gemini.requests[0].body as { tools: { functionDeclarations: { name: string; parameters?: unknown; parametersJsonSchema?: unknown }[] }[] }).tools;
    const declarations = tools.flatMap((tool) => tool.functionDeclarations);
    expect(declarations.map((declaration) => declaration.name)).toEqual(['weather_forecast', 'files_read']);
    expect(declarations[0].parameters ?? declarations[0].parametersJsonSchema).toMatchObject({ properties: { city: { type: expect.any(String) } } });
  });

  it('Bedrock converse: toolConfig.tools[].toolSpec', async () => {
    await ask('bedrock/anthropic.claude-3-haiku-20240307-v1:0');
    const config = (bedrock.requests[0].body as { toolConfig: { tools: { toolSpec: { name: string; inputSchema: { json: unknown } } }[] } }).toolConfig;
    expect(config.tools.map((tool) => tool.toolSpec.name)).toEqual(['weather_forecast', 'files_read']);
    expect(config.tools[0].toolSpec.inputSchema.json).toEqual(SCHEMA);
  });
});

describe('native requests get the tools in their own API', () => {
  it("Responses to openai, natively: Responses' function tools", async () => {
    await client.responses.create({ model: 'openai/gpt-4o-mini', input: 'hi' }, { headers: MANUAL_ONLY });
    expect(openai.requests[0].path).toBe('/v1/responses');
    expect(openai.requests[0].body!.tools).toEqual([{ type: 'function', name: 'files_read', description: 'read of files',
      parameters: { type: 'object', properties: { path: { type: 'string' } } } }]);
  });

  it("Anthropic messages to anthropic, natively: after the client's own tools", async () => {
    const sdk = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: 'sk-ant-client', maxRetries: 0, defaultHeaders: MANUAL_ONLY });
    await sdk.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'mine', input_schema: { type: 'object' } }] });
    expect(anthropic.requests[0].body!.tools).toEqual([{ name: 'mine', input_schema: { type: 'object' } },
      { name: 'files_read', description: 'read of files', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }]);
  });
});

describe('agent mode from every client route', () => {
  const script = () => openai.script('gpt-4o-mini', [
    { toolCalls: [{ id: 'c1', name: 'weather_forecast', arguments: '{"city":"Oslo"}' }] },
    { content: 'Sunny in Oslo.' },
  ]);

  it('Responses: translated through chat, so the loop reads the answers', async () => {
    script();
    const { data, response } = await client.responses.create({ model: 'openai/gpt-4o-mini', input: 'Oslo?' }).withResponse();
    expect(data.output_text).toBe('Sunny in Oslo.');
    expect(response.headers.get('x-heimdall-mcp-tools-run')).toBe('weather_forecast');
    expect(openai.requests.map((request) => request.path)).toEqual(['/v1/chat/completions', '/v1/chat/completions']);
  });

  it('Anthropic messages', async () => {
    script();
    const sdk = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: 'sk-ant-client', maxRetries: 0 });
    const message = await sdk.messages.create({ model: 'openai/gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: 'Oslo?' }] });
    expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: 'Sunny in Oslo.' })]);
    expect(catalog.calls.map((call) => call.args)).toEqual([{ city: 'Oslo' }]);
  });

  it('GenAI', async () => {
    script();
    const ai = new GoogleGenAI({ apiKey: 'client-key', httpOptions: { baseUrl: `${url}/genai` } });
    const answer = await ai.models.generateContent({ model: 'openai/gpt-4o-mini', contents: 'Oslo?' });
    expect(answer.text).toBe('Sunny in Oslo.');
    expect(openai.requests).toHaveLength(2);
  });

  it('Bedrock converse', async () => {
    script();
    const sdk = new BedrockRuntimeClient({ endpoint: `${url}/bedrock`, region: 'us-east-1', maxAttempts: 1,
      requestHandler: new NodeHttpHandler(), credentials: { accessKeyId: 'AKIDCLIENT', secretAccessKey: 'client-secret' } });
    const answer = await sdk.send(new ConverseCommand({ modelId: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: [{ text: 'Oslo?' }] }] }));
    expect(answer.output?.message?.content).toEqual([{ text: 'Sunny in Oslo.' }]);
    expect(answer.usage?.totalTokens).toBeGreaterThan(0);
    expect(openai.requests).toHaveLength(2);
  });
});
