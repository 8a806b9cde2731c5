// What decides an answer, as the keys the cache files it under. The exact key covers the whole request the provider
// gets (messages, tools, sampling parameters, …) with the route's dialect, whether it went natively, the provider
// and model (unless the config shares entries across them), the virtual key (unless shared), and the cache key the
// client named. The semantic scope is the same less the last user message, which is what gets embedded: a semantic
// match may only differ there.

import { createHash } from 'node:crypto';

/** Fields that change how the answer travels, not what it says: a cached answer serves either way. */
const TRANSPORT_FIELDS = new Set(['model', 'stream', 'stream_options', 'fallbacks']);

/** JSON with object keys sorted at every depth, so that key order in the client's body does not split entries. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).filter((key) => (value as Record<string, unknown>)[key] !== undefined).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url');

export interface KeyParts {
  readonly namespace: string;
  /** The client's `x-bf-cache-key`, or the config's default. */
  readonly cacheKey: string;
  readonly dialect: string;
  readonly kind: string;
  /** The request went to the provider in the client's own API: its answer is that API's, stream or not. */
  readonly native: boolean;
  readonly stream: boolean;
  /** '' when the config shares entries across providers (models). */
  readonly provider: string;
  readonly model: string;
  /** '' when no virtual key, or entries are shared across them. */
  readonly virtualKey: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly excludeSystemPrompt: boolean;
}

export interface CacheKeys {
  readonly exact: string;
  /** Null when the request has no user message to embed (or is not a chat request). */
  readonly scope: string | null;
  /** The last user message's text, for the semantic layer. */
  readonly text: string | null;
}

interface Message {
  role?: unknown;
  content?: unknown;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: { type?: unknown; text?: unknown }) => (typeof part?.text === 'string' ? part.text : '')).join('');
}

const isSystem = (message: Message | null) => message?.role === 'system' || message?.role === 'developer';

export function cacheKeys(parts: KeyParts): CacheKeys {
  const rest: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(parts.body)) if (!TRANSPORT_FIELDS.has(field)) rest[field] = value;
  let messages = Array.isArray(rest.messages) ? rest.messages as (Message | null)[] : null;
  if (messages && parts.excludeSystemPrompt) messages = messages.filter((message) => !isSystem(message));
  // Anthropic's Messages carries its system prompt beside the messages.
  if (parts.excludeSystemPrompt) delete rest.system;
  if (messages) rest.messages = messages;
  // A native answer is the provider's own stream or object: it can only serve the same kind of request.
  const head = canonicalJson([parts.namespace, parts.cacheKey, parts.dialect, parts.kind, parts.native ? parts.stream : null,
    parts.provider, parts.model, parts.virtualKey]);
  const exact = digest(`${head}\n${canonicalJson(rest)}`);
  let last = -1;
  if (messages && parts.kind === 'chat' && !parts.native) {
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i]?.role === 'user') { last = i; break; }
  }
  if (!messages || last < 0) return { exact, scope: null, text: null };
  const text = textOf(messages[last]!.content);
  if (text === '') return { exact, scope: null, text: null };
  const others = { ...rest, messages: messages.map((message, i) => (i === last ? { role: 'user' } : message)) };
  return { exact, scope: digest(`${head}\n${canonicalJson(others)}`), text };
}
