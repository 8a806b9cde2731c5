import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { bedrock } from '../../../../workers/providers/bedrock.js';
import type { CallTarget, StreamState } from '../../../../workers/providers/types.js';

const target: CallTarget = { baseUrl: null, key: { value: '', configs: { bedrock_key_config: { access_key: 'AKID', secret_key: 's', region: 'us-west-2',
  deployments: { llama: 'us.meta.llama3-2-11b-instruct-v1:0' } } } } };
const job = (body: Record<string, unknown>, stream = false): JobData => ({ modelLabel: 0, kind: 'invoke', requestId: 'r1', model: 'llama', keyIndex: 0,
  stream, includeUsage: false, body });
const state = (): StreamState => ({ includeUsage: false, model: 'llama', usage: null, scratch: {} });
const chunkEvent = (payload: Record<string, unknown>) => ({ event: 'chunk', data: JSON.stringify({ bytes: Buffer.from(JSON.stringify(payload)).toString('base64') }) });

describe('Bedrock adapter: InvokeModel as the client sent it', () => {
  it('sends the body as it is to the deployment\'s invoke or stream operation', () => {
    const body = { prompt: 'hi', max_gen_len: 5 };
    const plain = bedrock.invokeCall!(job(body), target);
    expect(plain.url).toBe('https://bedrock-runtime.us-west-2.amazonaws.com/model/us.meta.llama3-2-11b-instruct-v1%3A0/invoke');
    expect(JSON.parse(plain.body)).toEqual(body);
    const streamed = bedrock.invokeCall!(job(body, true), target);
    expect(streamed.url).toMatch(/\/invoke-with-response-stream$/);
    expect(streamed.headers).toEqual({ accept: 'application/vnd.amazon.eventstream' });
  });

  it('reads the usage from Bedrock\'s headers, else the family\'s own counts', () => {
    const header = (name: string) => ({ 'x-amzn-bedrock-input-token-count': '11', 'x-amzn-bedrock-output-token-count': '4' })[name];
    const mistral = JSON.stringify({ outputs: [{ text: 'x', stop_reason: 'stop' }] });
    expect(bedrock.invokeAnswer!(mistral, header)).toEqual({ body: mistral, usage: expect.objectContaining({ promptTokens: 11, completionTokens: 4 }) });
    expect(bedrock.invokeAnswer!(mistral, () => undefined).usage).toBeNull();
    const titan = JSON.stringify({ inputTextTokenCount: 3, results: [{ tokenCount: 2, outputText: 'x' }, { tokenCount: 1, outputText: 'y' }] });
    expect(bedrock.invokeAnswer!(titan, () => undefined).usage).toMatchObject({ promptTokens: 3, completionTokens: 3 });
    expect(bedrock.invokeAnswer!(JSON.stringify({ meta: { billed_units: { input_tokens: 5, output_tokens: 6 } } }), () => undefined).usage)
      .toMatchObject({ promptTokens: 5, completionTokens: 6 });
    expect(() => bedrock.invokeAnswer!('[]', () => undefined)).toThrow(/not a JSON object/);
  });

  it('passes each chunk\'s JSON on, and ends at the invocation metrics with their counts', () => {
    const s = state();
    expect(bedrock.invokeEvent!(chunkEvent({ generation: 'hi' }), s)).toEqual({ chunks: ['{"generation":"hi"}'], done: false });
    const last = { generation: '', stop_reason: 'stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 9, outputTokenCount: 2 } };
    expect(bedrock.invokeEvent!(chunkEvent(last), s)).toEqual({ chunks: [JSON.stringify(last)], done: true });
    expect(s.usage).toMatchObject({ promptTokens: 9, completionTokens: 2 });
  });

  it('turns an exception frame into a failed step with its status', () => {
    const step = bedrock.invokeEvent!({ event: 'throttlingException', data: '{"message":"slow down"}' }, state());
    expect(step.error).toEqual({ status: 429, message: 'throttlingException: slow down' });
    expect(() => bedrock.invokeEvent!({ event: 'chunk', data: '{}' }, state())).toThrow(/no bytes/);
  });
});
