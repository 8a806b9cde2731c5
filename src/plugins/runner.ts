// Runs the plugins' hooks in the order the contract promises (see contract.ts). Hooks that return plain values
// stay synchronous: a promise is only awaited when a hook returns one, so built-ins cost no microtask.

import type { Logger } from 'pino';
import { errorData } from '../errors/gateway-error.js';
import type { ChatRequestBody, Outcome, Plugin, PluginContext, PreHookResult } from './contract.js';

export interface PreHooksRun {
  /** How many plugins the pre-phase reached: post-hooks run for exactly these, in reverse. */
  reached: number;
  shortCircuit: Exclude<PreHookResult, void | undefined> | null;
}

const isThenable = <T>(value: unknown): value is PromiseLike<T> =>
  typeof (value as PromiseLike<T> | null)?.then === 'function';

export class PluginRunner {
  readonly #plugins: readonly Plugin[];
  readonly #chunkPlugins: readonly Plugin[];
  readonly #logger: Logger;

  constructor(plugins: readonly Plugin[], logger: Logger) {
    this.#plugins = plugins;
    this.#chunkPlugins = plugins.filter((plugin) => plugin.onStreamChunk);
    this.#logger = logger;
  }

  get names(): string[] {
    return this.#plugins.map((plugin) => plugin.name);
  }

  get hasChunkHooks(): boolean {
    return this.#chunkPlugins.length > 0;
  }

  runPre(ctx: PluginContext, request: ChatRequestBody, from = 0): PreHooksRun | Promise<PreHooksRun> {
    for (let i = from; i < this.#plugins.length; i++) {
      const hook = this.#plugins[i].preHook;
      if (!hook) continue;
      let result: PreHookResult | Promise<PreHookResult>;
      try {
        result = hook.call(this.#plugins[i], ctx, request);
      } catch (error) {
        return this.#failed(i, error);
      }
      if (isThenable<PreHookResult>(result)) {
        return Promise.resolve(result).then(
          (settled) => (settled ? { reached: i + 1, shortCircuit: settled } : this.runPre(ctx, request, i + 1)),
          (error: unknown) => this.#failed(i, error),
        );
      }
      if (result) return { reached: i + 1, shortCircuit: result };
    }
    return { reached: this.#plugins.length, shortCircuit: null };
  }

  #failed(index: number, error: unknown): PreHooksRun {
    const name = this.#plugins[index].name;
    this.#logger.error({ err: error, plugin: name }, 'plugin pre-hook threw');
    return { reached: index + 1, shortCircuit: { error: { status: 500, message: `plugin '${name}' failed` } } };
  }

  /** Post-hooks of the first `reached` plugins, last first. A hook that throws is logged and skipped. */
  runPost(ctx: PluginContext, outcome: Outcome, reached: number, from = reached - 1): void | Promise<void> {
    for (let i = from; i >= 0; i--) {
      const hook = this.#plugins[i].postHook;
      if (!hook) continue;
      let result: void | Promise<void>;
      try {
        result = hook.call(this.#plugins[i], ctx, outcome);
      } catch (error) {
        this.#logger.error({ err: error, plugin: this.#plugins[i].name, requestId: ctx.requestId }, 'plugin post-hook threw');
        continue;
      }
      if (isThenable<void>(result)) {
        return Promise.resolve(result).then(
          () => this.runPost(ctx, outcome, reached, i - 1),
          (error: unknown) => {
            this.#logger.error({ err: error, plugin: this.#plugins[i].name, requestId: ctx.requestId }, 'plugin post-hook threw');
            return this.runPost(ctx, outcome, reached, i - 1);
          },
        );
      }
    }
  }

  /** The chunk after every chunk hook, or null when one dropped it. */
  chunk(ctx: PluginContext, chunk: string): string | null {
    let current: string | null = chunk;
    for (const plugin of this.#chunkPlugins) {
      try {
        current = plugin.onStreamChunk!(ctx, current);
      } catch (error) {
        this.#logger.error({ err: error, plugin: plugin.name, requestId: ctx.requestId }, 'plugin chunk hook threw');
      }
      if (current === null) return null;
    }
    return current;
  }

  async close(): Promise<void> {
    for (const plugin of [...this.#plugins].reverse()) {
      try {
        await plugin.close?.();
      } catch (error) {
        this.#logger.error({ err: error, plugin: plugin.name }, 'plugin close threw');
      }
    }
  }
}

export const pluginFailure = (message: string, status = 500) =>
  errorData(status >= 500 ? 'PLUGIN_FAILED' : 'PLUGIN_REJECTED', message, { status });
