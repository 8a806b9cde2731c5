// A test plugin with MCP tool hooks, driven by the tool call's arguments:
//   {"text": "cached"}     preToolHook answers in the tool's place ("from the plugin")
//   {"text": "forbidden"}  preToolHook refuses (403)
//   {"text": "rewrite"}    preToolHook changes the arguments to {"text": "rewritten"}
//   {"text": "shout"}      postToolHook upper-cases the tool's result
// Every hook call is recorded in globalThis.__toolHookCalls.
import type { Plugin, ToolCall, ToolResult } from '../../../src/plugins/contract.js';

const calls = (): string[] => ((globalThis as { __toolHookCalls?: string[] }).__toolHookCalls ??= []);

export default function createToolHooks(): Plugin {
  return {
    name: 'tool-hooks',
    preToolHook(_ctx, call: ToolCall) {
      calls().push(`pre ${call.name} ${call.client} ${call.tool}`);
      const text = call.arguments.text;
      if (text === 'cached') return { result: { content: 'from the plugin', isError: false } };
      if (text === 'forbidden') return { error: { status: 403, message: 'the plugin refuses this call' } };
      if (text === 'rewrite') call.arguments = { text: 'rewritten' };
      return undefined;
    },
    async postToolHook(_ctx, call: ToolCall, result: ToolResult) {
      calls().push(`post ${call.name}`);
      if (call.arguments.text === 'shout') return { ...result, content: result.content.toUpperCase() };
      return undefined;
    },
  };
}
