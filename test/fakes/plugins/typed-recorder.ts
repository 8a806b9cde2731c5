// A test plugin in TypeScript, loaded by the gateway through tsx, written against the plugin contract. Its
// hooks are async (the runner's promise paths). It records into `globalThis.__calls` like recorder.js, and
// obeys, when addressed by its name in the header's value:
//   x-short-circuit / x-reject / x-throw   as recorder.js
//   x-pre-delay-ms: <n>                    its pre-hook takes n milliseconds (any label)
//   x-upper: <name>                        its chunk hook upper-cases the streamed content

import type { Outcome, Plugin, PluginContext, ChatRequestBody, PreHookResult } from '../../../src/plugins/contract.js';

export interface RecordedCall {
  plugin: string;
  /** `pre-settled`: the typed plugin's (async) pre-hook has finished; `late`: recorder.js's late pre-hook settled. */
  hook: 'pre' | 'pre-settled' | 'post' | 'chunk' | 'late';
  requestId: string;
  [detail: string]: unknown;
}

const calls = (): RecordedCall[] => ((globalThis as { __calls?: RecordedCall[] }).__calls ??= []);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export default function createTypedRecorder(config: Readonly<Record<string, unknown>>): Plugin {
  const name = typeof config.label === 'string' ? config.label : 'typed';
  return {
    name,
    async preHook(ctx: PluginContext, request: ChatRequestBody): Promise<PreHookResult> {
      calls().push({ plugin: name, hook: 'pre', requestId: ctx.requestId, provider: ctx.provider, model: ctx.model,
        stream: ctx.stream, requestModel: request.model });
      const delay = Number(ctx.headers['x-pre-delay-ms'] ?? 0);
      if (delay > 0) await sleep(delay);
      else await Promise.resolve();
      calls().push({ plugin: name, hook: 'pre-settled', requestId: ctx.requestId });
      if (ctx.headers['x-throw'] === name) throw new Error(`${name} was asked to throw`);
      if (ctx.headers['x-reject'] === name) return { error: { status: 403, message: `refused by plugin ${name}` } };
      if (ctx.headers['x-short-circuit'] === name) {
        return {
          response: {
            body: {
              id: `chatcmpl-${name}-cache`,
              object: 'chat.completion',
              created: 1700000000,
              model: ctx.model,
              choices: [{ index: 0, message: { role: 'assistant', content: `cached answer from ${name}`, refusal: null },
                logprobs: null, finish_reason: 'stop' }],
              usage: { prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 },
            },
          },
        };
      }
      return undefined;
    },
    async postHook(ctx: PluginContext, outcome: Outcome): Promise<void> {
      await Promise.resolve();
      calls().push({ plugin: name, hook: 'post', requestId: ctx.requestId, status: outcome.status,
        shortCircuited: outcome.shortCircuited, errorCode: outcome.error?.code ?? null, usage: outcome.usage });
    },
    onStreamChunk(ctx: PluginContext, chunk: string): string | null {
      calls().push({ plugin: name, hook: 'chunk', requestId: ctx.requestId, chunk });
      if (ctx.headers['x-upper'] !== name) return chunk;
      const parsed = JSON.parse(chunk) as { choices: { delta: { content?: string | null } }[] };
      for (const choice of parsed.choices) {
        if (typeof choice.delta.content === 'string') choice.delta.content = choice.delta.content.toUpperCase();
      }
      return JSON.stringify(parsed);
    },
  };
}
