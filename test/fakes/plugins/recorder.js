// A test plugin in plain JavaScript: records every hook call into `globalThis.__calls` (it runs on the gateway's
// front thread, which in the integration tests is the test's own process) and does what the request's headers
// ask of it, addressed by its label:
//   x-short-circuit: <label>   answer from the pre-hook with a chat.completion (the provider is not called)
//   x-reject: <label>          refuse from the pre-hook with a 403 error
//   x-throw: <label>           throw from the pre-hook
//   x-set-user: <label>        set the request's `user` to the label (a change the provider must see)
//   x-hang-pre: <label>        return a pre-hook promise that never settles
//   x-hang-post: <label>       return a post-hook promise that never settles
//   x-late-pre: <label>        short-circuit from the pre-hook, but only after x-late-ms milliseconds

/** @returns {unknown[]} */
function calls() {
  const g = /** @type {{ __calls?: unknown[] }} */ (globalThis);
  return (g.__calls ??= []);
}

/** @param {Record<string, unknown>} config */
export default function createRecorder(config) {
  const label = typeof config.label === 'string' ? config.label : 'js-recorder';
  return {
    name: label,
    preHook(ctx, request) {
      calls().push({ plugin: label, hook: 'pre', requestId: ctx.requestId, provider: ctx.provider, model: ctx.model,
        stream: ctx.stream, requestModel: request.model });
      if (ctx.headers['x-throw'] === label) throw new Error(`${label} was asked to throw`);
      if (ctx.headers['x-set-user'] === label) request.user = label;
      if (ctx.headers['x-reject'] === label) return { error: { status: 403, message: `refused by plugin ${label}` } };
      if (ctx.headers['x-hang-pre'] === label) return new Promise(() => {});
      if (ctx.headers['x-late-pre'] === label) {
        return new Promise((resolve) => setTimeout(() => {
          calls().push({ plugin: label, hook: 'late', requestId: ctx.requestId });
          resolve({ error: { status: 403, message: `late answer from ${label}` } });
        }, Number(ctx.headers['x-late-ms'])));
      }
      if (ctx.headers['x-short-circuit'] === label) {
        return {
          response: {
            body: {
              id: `chatcmpl-${label}-cache`,
              object: 'chat.completion',
              created: 1700000000,
              model: ctx.model,
              choices: [{ index: 0, message: { role: 'assistant', content: `cached answer from ${label}`, refusal: null },
                logprobs: null, finish_reason: 'stop' }],
              usage: { prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 },
            },
          },
        };
      }
      return undefined;
    },
    postHook(ctx, outcome) {
      calls().push({ plugin: label, hook: 'post', requestId: ctx.requestId, status: outcome.status,
        shortCircuited: outcome.shortCircuited, errorCode: outcome.error?.code ?? null, usage: outcome.usage });
      if (ctx.headers['x-hang-post'] === label) return new Promise(() => {});
      return undefined;
    },
    onStreamChunk(ctx, chunk) {
      calls().push({ plugin: label, hook: 'chunk', requestId: ctx.requestId, chunk });
      return chunk;
    },
  };
}
