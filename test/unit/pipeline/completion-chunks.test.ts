import { describe, expect, it } from 'vitest';
import { completionAsChunks } from '../../../src/pipeline/completion-chunks.js';

describe('a completion replayed as stream chunks', () => {
  it('gives the message as one delta, then the finish reason, then the usage', () => {
    const chunks = completionAsChunks(JSON.stringify({
      id: 'c1', object: 'chat.completion', created: 5, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'cached answer' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    }))!.map((chunk) => JSON.parse(chunk));
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toMatchObject({ id: 'c1', object: 'chat.completion.chunk', model: 'm',
      choices: [{ index: 0, delta: { role: 'assistant', content: 'cached answer' }, finish_reason: null }] });
    expect(chunks[1].choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'stop' });
    expect(chunks[2]).toMatchObject({ choices: [], usage: { total_tokens: 3 } });
  });

  it('declines bodies that are not chat completions', () => {
    expect(completionAsChunks('{"hello":"world"}')).toBeNull();
    expect(completionAsChunks('not json')).toBeNull();
    expect(completionAsChunks(null)).toBeNull();
  });
});
