import { describe, expect, it } from 'vitest';
import { promptMessages } from '../../../../src/dialects/invoke/prompt.js';

describe('promptMessages', () => {
  it('reads Llama 3\'s header tokens as turns, less the generation prompt', () => {
    const prompt = '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nbe brief<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nhello<|eot_id|>'
      + '<|start_header_id|>user<|end_header_id|>\n\nand?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n';
    expect(promptMessages(prompt)).toEqual([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' }, { role: 'user', content: 'and?' }]);
  });

  it('reads [INST] markup, Llama 2\'s system block included', () => {
    expect(promptMessages('<s>[INST] <<SYS>>\nbe brief\n<</SYS>>\n\nhi [/INST] hello </s><s>[INST] and? [/INST]')).toEqual([
      { role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'and?' }]);
  });

  it('reads DeepSeek\'s markers, its opened thinking left out', () => {
    expect(promptMessages('<｜begin▁of▁sentence｜>be brief<｜User｜>hi<｜Assistant｜>hello<｜end▁of▁sentence｜><｜User｜>and?<｜Assistant｜><think>\n')).toEqual([
      { role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'and?' }]);
  });

  it('takes a prompt in no template as one user message, as it is', () => {
    expect(promptMessages('User: hi\nBot:')).toEqual([{ role: 'user', content: 'User: hi\nBot:' }]);
    expect(promptMessages('<|start_header_id|>assistant<|end_header_id|>\n\nonly a prefill')).toEqual([
      { role: 'user', content: '<|start_header_id|>assistant<|end_header_id|>\n\nonly a prefill' }]);
  });
});
