// The gateway's chat shape as code reads it: OpenAI's chat completion message, tool call and usage, with the extension
// fields the dialects write for what OpenAI has no field for. Every route translates into this shape and every
// adapter out of it, on both sides of the thread boundary, so it is declared once, here. All of it is optional and
// loosely typed: it describes JSON from clients and providers, checked where it is read.

export interface ChatToolCall {
  /** Stream chunks number the calls they add to. */
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
  /** Where Google's OpenAI-compatible endpoint puts a call's thought signature; clients send it back as is. */
  extra_content?: { google?: { thought_signature?: unknown } };
}

/** Anthropic's signed reasoning, handed back to providers that check it (extension). */
export interface ChatThinkingBlock {
  type?: string;
  thinking?: string;
  signature?: string;
  data?: string;
}

export interface ChatMessage {
  role?: string;
  content?: unknown;
  name?: string;
  /** Reasoning text (DeepSeek's field, which the gateway answers with for every provider). */
  reasoning_content?: unknown;
  thinking_blocks?: ChatThinkingBlock[];
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  function_call?: { name?: string; arguments?: string };
  refusal?: unknown;
  /** A tool result's outcome (extension; workers/providers/tool-result.ts renders it per provider). */
  is_error?: boolean;
}

export interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_creation_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}
