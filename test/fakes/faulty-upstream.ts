// A fault-injecting OpenAI upstream for the hardening tests and the soak: the fake OpenAI server (JSON and SSE in
// OpenAI's wire format) with a model-name grammar that composes faults, so that a request sent through the
// gateway chooses what goes wrong with it. A model name is faults joined by '+', e.g. `status-503+retry-after-2`
// or `latency-300+chunk-interval-50`:
//   latency-<ms>          waits <ms> before sending anything: slow headers
//   status-<code>         fails with that status in OpenAI's error envelope
//   retry-after-<value>   the Retry-After sent with the failure
//   reset-before-headers  destroys the connection before any byte of the answer
//   reset-mid-body        JSON: half the announced body, then a reset; streams: a reset after 2 events
//   truncated             streams: every chunk but no `data: [DONE]`, then a clean end
//   malformed             JSON: a 200 whose body is cut short; streams: an event that is not JSON
//   chunk-interval-<ms>   streams: <ms> between events: slow chunks
//   hang                  streams: the content, then nothing more until the client leaves
//   ok                    a plain success
// The model `mix` draws its faults per request from the `mix` option (seeded, so a run can be replayed): what a
// retry or a fallback to the same upstream meets is then a new draw, as with a flaky real server.

import type { Scenario } from './openai-server.js';
import { scenarioFromModel as plainScenario, startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from './openai-server.js';

export interface WeightedFault {
  /** Faults in the model-name grammar above. */
  readonly faults: string;
  readonly weight: number;
}

export interface FaultyUpstreamOptions extends Omit<FakeOpenAIOptions, 'scenarioFromModel'> {
  /** What the model `mix` draws from. */
  mix?: readonly WeightedFault[];
  /** Seed of the draws; default 1. */
  seed?: number;
}

export interface FaultyUpstream extends FakeOpenAI {
  /** How many requests drew each entry of the mix, by its `faults`. */
  readonly drawn: ReadonlyMap<string, number>;
}

const FAULTS: readonly [RegExp, (value: string) => Scenario][] = [
  [/^latency-(\d+)$/, (ms) => ({ latencyMs: Number(ms) })],
  [/^status-(\d{3})$/, (code) => ({ error: { status: Number(code) } })],
  [/^reset-before-headers$/, () => ({ resetBeforeHeaders: true })],
  [/^reset-mid-body$/, () => ({ resetMidBody: true, breakAfterChunks: 2 })],
  [/^truncated$/, () => ({ omitDone: true })],
  [/^malformed$/, () => ({ malformed: true })],
  [/^chunk-interval-(\d+)$/, (ms) => ({ chunkIntervalMs: Number(ms) })],
  [/^hang$/, () => ({ hang: true })],
  [/^ok$/, () => ({})],
];

/** The scenario of a model name in the fault grammar; a name outside it is read by the fake OpenAI's own grammar. */
export function faultScenario(model: string): Scenario {
  const scenario: Scenario = {};
  let retryAfter: string | undefined;
  for (const part of model.split('+')) {
    const retry = /^retry-after-(.+)$/.exec(part);
    if (retry) {
      retryAfter = retry[1];
      continue;
    }
    const fault = FAULTS.find(([pattern]) => pattern.test(part));
    if (!fault) return plainScenario(model);
    Object.assign(scenario, fault[1](fault[0].exec(part)![1]));
  }
  if (retryAfter !== undefined && scenario.error) scenario.error.retryAfter = retryAfter;
  return scenario;
}

/** mulberry32: a small seeded generator, so that a mix can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks one entry of a weighted list with `random()` in [0, 1). */
export function pickWeighted<T extends { weight: number }>(items: readonly T[], random: () => number): T {
  const total = items.reduce((sum, item) => sum + item.weight, 0);
  let at = random() * total;
  for (const item of items) {
    at -= item.weight;
    if (at < 0) return item;
  }
  return items[items.length - 1];
}

export async function startFaultyUpstream(options: FaultyUpstreamOptions = {}): Promise<FaultyUpstream> {
  const { mix = [], seed = 1, ...fakeOptions } = options;
  const random = seededRandom(seed);
  const drawn = new Map<string, number>();
  const fake = await startFakeOpenAI({
    ...fakeOptions,
    scenarioFromModel: (model) => {
      if (model !== 'mix' || mix.length === 0) return faultScenario(model);
      const entry = pickWeighted(mix, random);
      drawn.set(entry.faults, (drawn.get(entry.faults) ?? 0) + 1);
      return faultScenario(entry.faults);
    },
  });
  return Object.assign(fake, { drawn });
}
