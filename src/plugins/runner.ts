// Runs the plugins' hooks in the order the contract promises (see contract.ts). Hooks that return plain values
// stay synchronous: a promise is only awaited when a hook returns one, so built-ins cost no microtask.
//
// A hook's promise is awaited only until a deadline, so that a hook that never settles cannot hang its request:
// each phase of hooks (an attempt's pre-hooks, the post-hooks) must settle within the request's timeout counted from
// when it starts, as the provider's answer is bounded by that timeout on its own. A hook past
// its deadline fails the request with PLUGIN_TIMEOUT (504) naming the plugin and the hook; whatever it settles to
// later is ignored. The hooks still to run after that are called but not awaited, as the deadline has passed.
// `onStreamChunk` is synchronous by contract: it cannot wait on anything.

import type { Logger } from 'pino';
import type { ErrorData } from '../errors/error-data.js';
import { errorData } from '../errors/gateway-error.js';
import { gatewayErrorOf } from '../errors/gateway-error.js';
import type { RequestTrace } from '../observability/tracing/spans.js';
import type { ChatRequestBody, Outcome, Plugin, PluginContext, PreHookResult, ToolCall, ToolHookContext, ToolResult } from './contract.js';

export interface PreHooksRun {
  /** How many plugins the pre-phase reached: post-hooks run for exactly these, in reverse. */
  reached: number;
  shortCircuit: Exclude<PreHookResult, void | undefined> | null;
  /** The gateway's own verdict on a hook that did not settle in time: answered instead of `shortCircuit`'s. */
  failure?: ErrorData;
}

const isThenable = <T>(value: unknown): value is PromiseLike<T> =>
  typeof (value as PromiseLike<T> | null)?.then === 'function';

const TIMED_OUT: unique symbol = Symbol('timed out');

/** The promise's outcome, or TIMED_OUT once `deadline` (performance.now() time) passed first. */
function settleBy<T>(promise: PromiseLike<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  if (deadline === Infinity) return Promise.resolve(promise);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - performance.now()));
    promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    }, (error: unknown) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The error of a hook that did not settle by its deadline. */
export function hookTimeout(plugin: string, hook: 'preHook' | 'postHook', timeoutMs: number): ErrorData {
  return errorData('PLUGIN_TIMEOUT', `plugin '${plugin}' ${hook} did not settle within ${timeoutMs / 1000} s ` +
    '(the request timeout, default_request_timeout_in_seconds)');
}

/** The request's trace, when the context carries one (the pipeline's RequestContext does when it is sampled). */
const traceOf = (ctx: PluginContext): RequestTrace | null => (ctx as { trace?: RequestTrace | null }).trace ?? null;

export class PluginRunner {
  readonly #plugins: readonly Plugin[];
  readonly #chunkPlugins: readonly Plugin[];
  readonly #toolPlugins: readonly Plugin[];
  readonly #logger: Logger;

  constructor(plugins: readonly Plugin[], logger: Logger) {
    this.#plugins = plugins;
    this.#chunkPlugins = plugins.filter((plugin) => plugin.onStreamChunk);
    this.#toolPlugins = plugins.filter((plugin) => plugin.preToolHook || plugin.postToolHook);
    this.#logger = logger;
  }

  get names(): string[] {
    return this.#plugins.map((plugin) => plugin.name);
  }

  get hasChunkHooks(): boolean {
    return this.#chunkPlugins.length > 0;
  }

  /**
   * Pre-hooks from plugin `from` on; async ones are awaited until `deadline` (performance.now() time, see the top of
   * this file), after which the request fails with PLUGIN_TIMEOUT. `timeoutMs` is the timeout the deadline came
   * from, for the error message.
   */
  runPre(ctx: PluginContext, request: ChatRequestBody, deadline = Infinity, timeoutMs = 0, from = 0): PreHooksRun | Promise<PreHooksRun> {
    const trace = traceOf(ctx);
    for (let i = from; i < this.#plugins.length; i++) {
      const hook = this.#plugins[i].preHook;
      if (!hook) continue;
      const started = trace ? performance.now() : 0;
      let result: PreHookResult | Promise<PreHookResult>;
      try {
        result = hook.call(this.#plugins[i], ctx, request);
      } catch (error) {
        trace?.hook(this.#plugins[i].name, 'pre', started, performance.now(), false, 'threw');
        return this.#failed(i, error);
      }
      if (isThenable<PreHookResult>(result)) {
        return settleBy(result, deadline).then(
          (settled) => {
            trace?.hook(this.#plugins[i].name, 'pre', started, performance.now(), settled !== TIMED_OUT && !!settled,
              settled === TIMED_OUT ? 'timed out' : null);
            if (settled === TIMED_OUT) return this.#timedOut(ctx, i, timeoutMs);
            return settled ? { reached: i + 1, shortCircuit: settled } : this.runPre(ctx, request, deadline, timeoutMs, i + 1);
          },
          (error: unknown) => {
            trace?.hook(this.#plugins[i].name, 'pre', started, performance.now(), false, 'threw');
            return this.#failed(i, error);
          },
        );
      }
      trace?.hook(this.#plugins[i].name, 'pre', started, performance.now(), !!result, null);
      if (result) return { reached: i + 1, shortCircuit: result };
    }
    return { reached: this.#plugins.length, shortCircuit: null };
  }

  #failed(index: number, error: unknown): PreHooksRun {
    const name = this.#plugins[index].name;
    this.#logger.error({ err: error, plugin: name }, 'plugin pre-hook threw');
    return { reached: index + 1, shortCircuit: { error: { status: 500, message: `plugin '${name}' failed` } } };
  }

  /** A pre-hook still pending at the deadline: the plugins before it get their post-hooks; its own is not called
   * while its pre-hook may still be running. */
  #timedOut(ctx: PluginContext, index: number, timeoutMs: number): PreHooksRun {
    const failure = hookTimeout(this.#plugins[index].name, 'preHook', timeoutMs);
    this.#logger.error({ plugin: this.#plugins[index].name, requestId: ctx.requestId }, failure.message);
    return { reached: index, shortCircuit: { error: { status: 504, message: failure.message } }, failure };
  }

  /**
   * Post-hooks of the first `reached` plugins, last first. A hook that throws is logged and skipped; async ones are
   * awaited for at most `timeoutMs` in all, after which the outcome becomes PLUGIN_TIMEOUT (see the top of this file).
   */
  runPost(ctx: PluginContext, outcome: Outcome, reached: number, timeoutMs = Infinity): void | Promise<void> {
    return this.#post(ctx, outcome, reached - 1, performance.now() + timeoutMs, timeoutMs, false);
  }

  #post(ctx: PluginContext, outcome: Outcome, from: number, deadline: number, timeoutMs: number,
    timedOut: boolean): void | Promise<void> {
    const trace = traceOf(ctx);
    for (let i = from; i >= 0; i--) {
      const hook = this.#plugins[i].postHook;
      if (!hook) continue;
      const started = trace ? performance.now() : 0;
      let result: void | Promise<void>;
      try {
        result = hook.call(this.#plugins[i], ctx, outcome);
      } catch (error) {
        trace?.hook(this.#plugins[i].name, 'post', started, performance.now(), false, 'threw');
        this.#postThrew(ctx, i, error);
        continue;
      }
      if (!isThenable<void>(result)) {
        trace?.hook(this.#plugins[i].name, 'post', started, performance.now(), false, null);
        continue;
      }
      if (timedOut) {
        // An earlier hook used up the time: this one runs, but the answer does not wait for it.
        Promise.resolve(result).catch((error: unknown) => this.#postThrew(ctx, i, error));
        continue;
      }
      return settleBy(result, deadline).then(
        (settled) => {
          trace?.hook(this.#plugins[i].name, 'post', started, performance.now(), false, settled === TIMED_OUT ? 'timed out' : null);
          if (settled !== TIMED_OUT) return this.#post(ctx, outcome, i - 1, deadline, timeoutMs, false);
          outcome.error = hookTimeout(this.#plugins[i].name, 'postHook', timeoutMs);
          outcome.status = 504;
          outcome.body = null;
          this.#logger.error({ plugin: this.#plugins[i].name, requestId: ctx.requestId }, outcome.error.message);
          return this.#post(ctx, outcome, i - 1, deadline, timeoutMs, true);
        },
        (error: unknown) => {
          trace?.hook(this.#plugins[i].name, 'post', started, performance.now(), false, 'threw');
          this.#postThrew(ctx, i, error);
          return this.#post(ctx, outcome, i - 1, deadline, timeoutMs, false);
        },
      );
    }
  }

  #postThrew(ctx: PluginContext, index: number, error: unknown): void {
    this.#logger.error({ err: error, plugin: this.#plugins[index].name, requestId: ctx.requestId }, 'plugin post-hook threw');
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

  /**
   * An MCP tool call inside the tool hooks (see contract.ts): `execute` runs unless a pre-hook answered. A pre-hook
   * that refuses or throws fails the call (PLUGIN_REJECTED, PLUGIN_FAILED); a post-hook that throws is logged and
   * skipped. Post-hooks run for a tool that answered, with an error or not; a call that failed (timeout, server
   * down) rejects without them.
   */
  async runTool(ctx: ToolHookContext, call: ToolCall, execute: (call: ToolCall) => Promise<ToolResult>): Promise<ToolResult> {
    const plugins = this.#toolPlugins;
    if (plugins.length === 0) return execute(call);
    let reached = 0;
    let result: ToolResult | null = null;
    for (; reached < plugins.length && !result; reached++) {
      const plugin = plugins[reached];
      if (!plugin.preToolHook) continue;
      let pre;
      try {
        pre = await plugin.preToolHook(ctx, call);
      } catch (error) {
        this.#logger.error({ err: error, plugin: plugin.name, requestId: ctx.requestId }, 'plugin preToolHook threw');
        throw gatewayErrorOf(pluginFailure(`plugin '${plugin.name}' failed`));
      }
      if (pre && 'error' in pre) throw gatewayErrorOf(pluginFailure(pre.error.message, pre.error.status ?? 400));
      if (pre && 'result' in pre) result = pre.result;
    }
    result ??= await execute(call);
    for (let i = reached - 1; i >= 0; i--) {
      const plugin = plugins[i];
      if (!plugin.postToolHook) continue;
      try {
        result = (await plugin.postToolHook(ctx, call, result)) ?? result;
      } catch (error) {
        this.#logger.error({ err: error, plugin: plugin.name, requestId: ctx.requestId }, 'plugin postToolHook threw');
      }
    }
    return result;
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
