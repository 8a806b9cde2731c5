// Stage 2b: refuse, in one place and with one clear 400, what the chosen provider cannot do. Adapters never
// carry stubs for missing features; the capability table in src/contract/providers.ts says what they do.

import { isMediaKind } from '../contract/messages.js';
import { PROVIDER_FACTS } from '../contract/providers.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { ParsedRequest } from './parse.js';
import type { RouteTarget } from './route.js';

function hasImages(messages: unknown[]): boolean {
  for (const message of messages) {
    const content = (message as { content?: unknown }).content;
    if (!Array.isArray(content)) continue;
    for (const part of content) if ((part as { type?: unknown })?.type === 'image_url') return true;
  }
  return false;
}

export function checkCapabilities(parsed: ParsedRequest, target: RouteTarget): void {
  const capabilities = PROVIDER_FACTS[target.provider.adapter]?.capabilities;
  if (!capabilities) return;
  const refuse = (what: string, param: string | null) => {
    throw new GatewayError('UNSUPPORTED_CAPABILITY', `provider '${target.provider.name}' does not support ${what}`,
      { param, provider: target.provider.name });
  };
  if (parsed.kind === 'embeddings') {
    if (!capabilities.embeddings) refuse('embeddings', 'model');
    return;
  }
  if (parsed.kind === 'rerank') {
    if (!capabilities.rerank) {
      const serving = Object.entries(PROVIDER_FACTS).filter(([, facts]) => facts.capabilities.rerank).map(([id]) => id);
      refuse(`rerank (providers with a rerank API: ${serving.join(', ')})`, 'model');
    }
    return;
  }
  if (parsed.kind === 'tokenize') {
    if (!capabilities.tokenize) refuse("Cohere's tokenizer (/cohere/v1/tokenize; the cohere provider has it)", 'model');
    return;
  }
  if (isMediaKind(parsed.kind)) {
    if (!capabilities.media.includes(parsed.kind)) refuse(`OpenAI's ${parsed.kind.replace('_', ' ')} endpoint`, 'model');
    return;
  }
  if (parsed.kind === 'count_tokens' && !capabilities.countTokens) refuse('counting tokens', 'model');
  if (parsed.stream && !capabilities.stream) refuse('streaming', 'stream');
  const tools = parsed.body.tools;
  if (Array.isArray(tools) && tools.length > 0 && !capabilities.tools) refuse('tools', 'tools');
  if (!capabilities.vision && hasImages(parsed.body.messages)) refuse('image inputs', 'messages');
  // A search the provider cannot run would change the answer, not just its shape: refused, never dropped.
  const search = parsed.body.web_search_options;
  if (search !== undefined && search !== null && !capabilities.webSearch) refuse('web search (web_search)', 'tools');
}

/**
 * Whether this attempt sends the client's request in its own API (a built-in provider with that API natively) rather
 * than the chat translation; a request that cannot be translated is refused here, with the translation's 400, for the
 * providers without it. Decided per attempt, after routing, so aliases, fallbacks and breakers apply alike.
 */
export function sendsNative(parsed: ParsedRequest, target: RouteTarget): boolean {
  const native = parsed.native;
  if (!native) return false;
  const provider = target.provider;
  const capabilities = PROVIDER_FACTS[provider.adapter]?.capabilities;
  const hasApi = native.kind === 'messages' ? capabilities?.messages : native.kind === 'invoke' ? capabilities?.invoke
    : native.kind === 'responses' && capabilities?.responses;
  if (provider.name === provider.adapter && hasApi) return true;
  if (native.untranslatable) throw new GatewayError(native.untranslatable.code, native.untranslatable.message, { ...native.untranslatable, provider: provider.name });
  return false;
}
