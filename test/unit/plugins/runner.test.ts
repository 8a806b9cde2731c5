import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ChatRequestBody, Outcome, Plugin, PluginContext } from '../../../src/plugins/contract.js';
import { PluginRunner } from '../../../src/plugins/runner.js';

const logger = pino({ level: 'silent' });
const ctx = { requestId: 'r1', kind: 'chat', headers: {}, receivedAt: 0, provider: 'mock', model: 'echo', stream: false,
  values: new Map(), logger } as PluginContext;
const request: ChatRequestBody = { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] };
const outcome = (): Outcome => ({ status: 200, body: '{}', error: null, usage: null, stream: false, upstreamMs: 0,
  firstChunkMs: null, shortCircuited: false });

function recorder(calls: string[], name: string, behaviour: Partial<Plugin> = {}): Plugin {
  return {
    name,
    preHook: () => { calls.push(`pre:${name}`); },
    postHook: () => { calls.push(`post:${name}`); },
    ...behaviour,
  };
}

describe('plugin runner', () => {
  it('runs pre-hooks in order and post-hooks in reverse', async () => {
    const calls: string[] = [];
    const runner = new PluginRunner(['a', 'b', 'c'].map((name) => recorder(calls, name)), logger);
    const run = await runner.runPre(ctx, request);
    expect(run).toEqual({ reached: 3, shortCircuit: null });
    await runner.runPost(ctx, outcome(), run.reached);
    expect(calls).toEqual(['pre:a', 'pre:b', 'pre:c', 'post:c', 'post:b', 'post:a']);
  });

  it('stops at a short-circuit and runs post-hooks only for the plugins it reached', async () => {
    const calls: string[] = [];
    const runner = new PluginRunner([
      recorder(calls, 'a'),
      recorder(calls, 'cache', { preHook: () => { calls.push('pre:cache'); return { response: { body: { cached: true } } }; } }),
      recorder(calls, 'c'),
    ], logger);
    const run = await runner.runPre(ctx, request);
    expect(run.reached).toBe(2);
    expect(run.shortCircuit).toEqual({ response: { body: { cached: true } } });
    await runner.runPost(ctx, outcome(), run.reached);
    expect(calls).toEqual(['pre:a', 'pre:cache', 'post:cache', 'post:a']);
  });

  it('awaits async hooks in the same order, and stays synchronous when no hook is async', async () => {
    const calls: string[] = [];
    const slow = recorder(calls, 'slow', {
      preHook: async () => { await new Promise((resolve) => setTimeout(resolve, 5)); calls.push('pre:slow'); },
      postHook: async () => { await new Promise((resolve) => setTimeout(resolve, 5)); calls.push('post:slow'); },
    });
    const runner = new PluginRunner([recorder(calls, 'a'), slow, recorder(calls, 'c')], logger);
    const pending = runner.runPre(ctx, request);
    expect(pending).toBeInstanceOf(Promise);
    const run = await pending;
    await runner.runPost(ctx, outcome(), run.reached);
    expect(calls).toEqual(['pre:a', 'pre:slow', 'pre:c', 'post:c', 'post:slow', 'post:a']);
    expect(new PluginRunner([recorder([], 'sync')], logger).runPre(ctx, request)).not.toBeInstanceOf(Promise);
  });

  it('turns a throwing pre-hook into an error short-circuit and survives a throwing post-hook', async () => {
    const calls: string[] = [];
    const runner = new PluginRunner([
      recorder(calls, 'a'),
      recorder(calls, 'broken', { preHook: () => { throw new Error('bug'); }, postHook: () => { throw new Error('bug'); } }),
      recorder(calls, 'c'),
    ], logger);
    const run = await runner.runPre(ctx, request);
    expect(run.shortCircuit).toEqual({ error: { status: 500, message: "plugin 'broken' failed" } });
    await runner.runPost(ctx, outcome(), run.reached);
    expect(calls).toEqual(['pre:a', 'post:a']);
  });

  it('passes each chunk through every chunk hook in order, and a null drops it', () => {
    const runner = new PluginRunner([
      { name: 'upper', onStreamChunk: (_c, chunk) => chunk.toUpperCase() },
      { name: 'drop-x', onStreamChunk: (_c, chunk) => (chunk.includes('X') ? null : `${chunk}!`) },
    ], logger);
    expect(runner.hasChunkHooks).toBe(true);
    expect(runner.chunk(ctx, 'abc')).toBe('ABC!');
    expect(runner.chunk(ctx, 'xyz')).toBeNull();
  });
});

describe('plugin runner: hooks that do not settle in time', () => {
  const never = () => new Promise<never>(() => {});
  const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

  it('fails the pre-phase with PLUGIN_TIMEOUT at the deadline; the hung plugin is not counted as reached', async () => {
    const calls: string[] = [];
    const runner = new PluginRunner([recorder(calls, 'a'), recorder(calls, 'stuck', { preHook: never }), recorder(calls, 'c')], logger);
    const run = await runner.runPre(ctx, request, performance.now() + 20, 20);
    expect(run.reached).toBe(1);
    expect(run.failure).toMatchObject({ code: 'PLUGIN_TIMEOUT', message: expect.stringContaining("plugin 'stuck' preHook did not settle within 0.02 s") });
    expect(run.shortCircuit).toEqual({ error: { status: 504, message: run.failure!.message } });
    expect(calls).toEqual(['pre:a']);
  });

  it('turns the outcome into PLUGIN_TIMEOUT when a post-hook hangs, runs the rest without waiting on them', async () => {
    const calls: string[] = [];
    const runner = new PluginRunner([
      recorder(calls, 'a', { postHook: () => { calls.push('post:a'); return never(); } }),
      recorder(calls, 'b'),
      recorder(calls, 'stuck', { postHook: () => { calls.push('post:stuck'); return never(); } }),
    ], logger);
    const result = outcome();
    await runner.runPost(ctx, result, 3, 20);
    expect(calls).toEqual(['post:stuck', 'post:b', 'post:a']);
    expect(result).toMatchObject({ status: 504, body: null, error: { code: 'PLUGIN_TIMEOUT' } });
    expect(result.error!.message).toContain("plugin 'stuck' postHook");
  });

  it('leaves no timer behind when async hooks settle in time, and none without a deadline', async () => {
    const quick = recorder([], 'quick', { preHook: async () => undefined, postHook: async () => undefined });
    const runner = new PluginRunner([quick], logger);
    const before = timers();
    await runner.runPre(ctx, request, performance.now() + 60_000, 60_000);
    await runner.runPost(ctx, outcome(), 1, 60_000);
    await runner.runPre(ctx, request);
    expect(timers()).toBe(before);
  });
});


describe('PluginRunner.runTool (MCP tool hooks)', () => {
  const toolCtx = { requestId: 'r1', logger };
  const call = () => ({ name: 'fs_read', client: 'fs', tool: 'read', arguments: { path: '/a' } as Record<string, unknown> });
  const tool = (calls: string[]) => async (c: { arguments: Record<string, unknown> }) => {
    calls.push(`tool:${JSON.stringify(c.arguments)}`);
    return { content: 'ran', isError: false };
  };
  const hooks = (calls: string[], name: string, extra: Partial<Plugin> = {}): Plugin => ({
    name,
    preToolHook: () => { calls.push(`pre:${name}`); },
    postToolHook: () => { calls.push(`post:${name}`); },
    ...extra,
  });

  it('runs pre-hooks in order, the tool, then post-hooks in reverse; plugins without tool hooks cost nothing', async () => {
    const calls: string[] = [];
    const runner = new PluginRunner([hooks(calls, 'a'), recorder(calls, 'requests-only'), hooks(calls, 'b')], logger);
    expect(await runner.runTool(toolCtx, call(), tool(calls))).toEqual({ content: 'ran', isError: false });
    expect(calls).toEqual(['pre:a', 'pre:b', 'tool:{"path":"/a"}', 'post:b', 'post:a']);
  });

  it('a pre-hook answering in place skips the tool and the later pre-hooks; post-hooks run for those reached', async () => {
    const calls: string[] = [];
    const runner = new PluginRunner([hooks(calls, 'a'), hooks(calls, 'b', { preToolHook: () => {
      calls.push('pre:b');
      return { result: { content: 'cached', isError: false } };
    } }), hooks(calls, 'c')], logger);
    expect(await runner.runTool(toolCtx, call(), tool(calls))).toEqual({ content: 'cached', isError: false });
    expect(calls).toEqual(['pre:a', 'pre:b', 'post:b', 'post:a']);
  });

  it('changes arguments and results; a refusal or a throw fails the call; a throwing post-hook is skipped', async () => {
    const calls: string[] = [];
    const rewriting = new PluginRunner([hooks(calls, 'a', {
      preToolHook: (_ctx, c) => { c.arguments = { path: '/b' }; },
      postToolHook: (_ctx, _c, result) => ({ ...result, content: result.content.toUpperCase() }),
    }), hooks(calls, 'b', { postToolHook: () => { throw new Error('post fails'); } })], logger);
    expect(await rewriting.runTool(toolCtx, call(), tool(calls))).toEqual({ content: 'RAN', isError: false });
    expect(calls).toEqual(['pre:b', 'tool:{"path":"/b"}']);
    const refusing = new PluginRunner([hooks(calls, 'a', { preToolHook: () => ({ error: { status: 403, message: 'no' } }) })], logger);
    await expect(refusing.runTool(toolCtx, call(), tool(calls))).rejects.toMatchObject({ data: { code: 'PLUGIN_REJECTED', status: 403 } });
    const throwing = new PluginRunner([hooks(calls, 'a', { preToolHook: () => { throw new Error('boom'); } })], logger);
    await expect(throwing.runTool(toolCtx, call(), tool(calls))).rejects.toMatchObject({ data: { code: 'PLUGIN_FAILED' } });
  });
});
