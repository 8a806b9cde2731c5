// What requests cost, through the real gateway in front of the fake OpenAI server: the figure in /metrics and in
// each request's access-log line, from the usage the fake reports (cached and reasoning tokens included), the
// price table, and a pricing_overrides entry; a model with no price is counted, never priced at zero.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { eventually, metricValue, openaiProvider, postChat } from './harness.js';
import { scrape, startMetricsGateway, type MetricsGateway } from './metrics-gateway.js';

// Every answer of the fake: 1,000 prompt tokens of which 400 cached, 500 completion tokens of which 100 reasoning.
const USAGE = { prompt_tokens: 1000, completion_tokens: 500, cached_tokens: 400, reasoning_tokens: 100 };
// gpt-4o-mini: $0.15 per million input, $0.075 cached, $0.60 output.
const GPT_4O_MINI = (600 * 0.15 + 400 * 0.075 + 500 * 0.6) / 1e6;
// The override: $1 and $2 per million; with no cached price of its own, cached tokens are input.
const FINE_TUNED = (1000 * 1 + 500 * 2) / 1e6;

let fake: FakeOpenAI;
let claude: FakeAnthropic;
let g: MetricsGateway;

beforeAll(async () => {
  fake = await startFakeOpenAI({ usage: USAGE });
  claude = await startFakeAnthropic({ apiKey: 'sk-ant' });
  g = await startMetricsGateway({ providers: {
    openai: { ...openaiProvider(fake.url), pricing_overrides: [
      { model_pattern: 'ft:gpt-4o-mini:*', match_type: 'wildcard', input_cost_per_token: 1e-6, output_cost_per_token: 2e-6 },
    ] },
    anthropic: { keys: [{ value: 'sk-ant', models: ['*'] }], network_config: { base_url: claude.url },
      concurrency_and_buffer_size: { concurrency: 10, buffer_size: 10, threads: 1 },
      // The fake's `-cache` models report cache use; priced as claude-3-5-haiku is.
      pricing_overrides: [{ model_pattern: '*-cache', match_type: 'wildcard', input_cost_per_token: 8e-7, output_cost_per_token: 4e-6,
        cache_read_input_token_cost: 8e-8, cache_creation_input_token_cost: 1e-6 }] },
  } });
}, 60_000);
afterAll(async () => {
  await g?.close();
  await fake?.close();
  await claude?.close();
});

const ask = async (model: string, requestId: string, extra: object = {}) => {
  const response = await postChat(g.url, { model, messages: [{ role: 'user', content: 'hi' }], ...extra }, { 'x-request-id': requestId });
  await response.text();
  expect(response.status).toBe(200);
};
const lineOf = async (requestId: string): Promise<Record<string, unknown>> =>
  (await eventually(() => g.lines().find((line) => line.log === 'access' && line.requestId === requestId),
    (line) => line !== undefined, 3_000))!;

describe('the cost of requests', () => {
  it('adds each answer\'s price to heimdall_cost_usd_total{provider,model}, streams included', async () => {
    await ask('openai/gpt-4o-mini', 'cost-1');
    await ask('openai/gpt-4o-mini', 'cost-2', { stream: true });
    await ask('openai/ft:gpt-4o-mini:acme::x1', 'cost-3');
    const text = await scrape(g.url);
    expect(metricValue(text, 'heimdall_cost_usd_total', { provider: 'openai', model: 'gpt-4o-mini' })).toBeCloseTo(2 * GPT_4O_MINI, 12);
    expect(metricValue(text, 'heimdall_cost_usd_total', { provider: 'openai', model: 'ft:gpt-4o-mini:acme::x1' })).toBeCloseTo(FINE_TUNED, 12);
    expect(text).toContain('# TYPE heimdall_cost_usd_total counter');
  });

  it('writes the cost and the cached and reasoning tokens into the request\'s access line', async () => {
    expect(await lineOf('cost-1')).toMatchObject({ costUsd: expect.closeTo(GPT_4O_MINI, 12), tokensIn: 1000, tokensOut: 500,
      tokensCached: 400, tokensReasoning: 100 });
    expect(await lineOf('cost-2')).toMatchObject({ stream: true, costUsd: expect.closeTo(GPT_4O_MINI, 12), tokensCached: 400 });
  });

  it('prices Anthropic\'s cache reads and writes at their own rates, as the fake reports them', async () => {
    await ask('anthropic/claude-3-5-haiku-20241022', 'cost-claude');
    const plain = await lineOf('cost-claude');
    expect(plain.costUsd).toBeCloseTo(((plain.tokensIn as number) * 0.8 + (plain.tokensOut as number) * 4) / 1e6, 12);
    // 12 fresh input tokens, 2,048 read from the cache, 512 written to it.
    await ask('anthropic/claude-3-5-haiku-cache', 'cost-claude-cache');
    const cached = await lineOf('cost-claude-cache');
    expect(cached).toMatchObject({ tokensIn: 12 + 2048 + 512, tokensCached: 2048 });
    expect(cached.costUsd).toBeCloseTo((12 * 0.8 + 2048 * 0.08 + 512 * 1 + (cached.tokensOut as number) * 4) / 1e6, 12);
  });

  it('counts a model with no price, and leaves its cost out rather than 0', async () => {
    await ask('openai/gpt-unreleased', 'cost-unknown');
    const text = await scrape(g.url);
    expect(metricValue(text, 'heimdall_cost_unpriced_requests_total', { provider: 'openai', model: 'gpt-unreleased', reason: 'no_price' }))
      .toBe(1);
    expect(metricValue(text, 'heimdall_cost_usd_total', { provider: 'openai', model: 'gpt-unreleased' })).toBeUndefined();
    const line = await lineOf('cost-unknown');
    expect(line).not.toHaveProperty('costUsd');
    expect(line).toMatchObject({ tokensIn: 1000 });
  });

  it('prices the free mock at 0: no cost series, nothing unpriced', async () => {
    await ask('mock/echo', 'cost-mock');
    expect(await lineOf('cost-mock')).toMatchObject({ costUsd: 0 });
    const text = await scrape(g.url);
    expect(metricValue(text, 'heimdall_cost_unpriced_requests_total', { provider: 'mock', model: 'echo', reason: 'no_price' })).toBeUndefined();
  });
});
