// A text-completion family's `prompt` (Llama, Mistral, DeepSeek on Bedrock) as chat messages. Clients write the
// model's chat template into the prompt; another provider has its own template, so the turns are read back out of
// it: Llama 3's header tokens, the `[INST]` markup of Llama 2 and Mistral, DeepSeek's `<｜User｜>` markers. A prompt
// in none of them is one user message, as it is.

export interface PromptMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

const LLAMA3_TURN = /<\|start_header_id\|>(system|user|assistant|ipython)<\|end_header_id\|>\n?\n?([\s\S]*?)(?:<\|eot_id\|>|<\|eom_id\|>|(?=<\|start_header_id\|>)|$)/g;

function llama3(prompt: string): PromptMessage[] {
  const out: PromptMessage[] = [];
  for (const [, role, text] of prompt.matchAll(LLAMA3_TURN)) {
    out.push({ role: role === 'ipython' ? 'user' : role as PromptMessage['role'], content: text.trim() });
  }
  return out;
}

const INST_TURN = /\[INST\]([\s\S]*?)\[\/INST\]([\s\S]*?)(?=<s>|\[INST\]|$)/g;
const LLAMA2_SYSTEM = /^\s*<<SYS>>([\s\S]*?)<<\/SYS>>/;

function inst(prompt: string): PromptMessage[] {
  const out: PromptMessage[] = [];
  for (const [, asked, answered] of prompt.matchAll(INST_TURN)) {
    let user = asked;
    const system = LLAMA2_SYSTEM.exec(user);
    if (system) {
      out.push({ role: 'system', content: system[1].trim() });
      user = user.slice(system[0].length);
    }
    out.push({ role: 'user', content: user.trim() });
    const reply = answered.replace(/<\/s>/g, '').trim();
    if (reply !== '') out.push({ role: 'assistant', content: reply });
  }
  return out;
}

const DEEPSEEK_MARK = /<｜(User|Assistant)｜>/g;

function deepseek(prompt: string): PromptMessage[] {
  const clean = prompt.replace(/<｜begin▁of▁sentence｜>/g, '');
  const parts = clean.split(DEEPSEEK_MARK);
  const out: PromptMessage[] = [];
  if (parts[0].trim() !== '') out.push({ role: 'system', content: parts[0].trim() });
  for (let i = 1; i + 1 < parts.length; i += 2) {
    // The generation prompt opens the model's thinking; the client asked for an answer, not for that marker.
    const text = parts[i + 1].replace(/<｜end▁of▁sentence｜>/g, '').replace(/^<think>\s*$/, '').trim();
    if (text !== '' || parts[i] === 'User') out.push({ role: parts[i] === 'User' ? 'user' : 'assistant', content: text });
  }
  return out;
}

/** The prompt's turns; the empty assistant turn a template ends with (the generation prompt) is left out. */
export function promptMessages(prompt: string): PromptMessage[] {
  let turns: PromptMessage[] = [];
  if (prompt.includes('<|start_header_id|>')) turns = llama3(prompt);
  else if (prompt.includes('[INST]')) turns = inst(prompt);
  else if (prompt.includes('<｜User｜>')) turns = deepseek(prompt);
  while (turns.length > 0 && turns.at(-1)!.role === 'assistant' && turns.at(-1)!.content === '') turns.pop();
  return turns.some((turn) => turn.role === 'user') ? turns : [{ role: 'user', content: prompt }];
}
