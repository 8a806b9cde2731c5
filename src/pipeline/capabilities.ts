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
  if (isMediaKind(parsed.kind)) {
    if (!capabilities.media) refuse(`OpenAI's audio and images endpoints (${parsed.kind.replace('_', ' ')})`, 'model');
    return;
  }
  if (parsed.kind === 'count_tokens' && !capabilities.countTokens) refuse('counting tokens', 'model');
  if (parsed.stream && !capabilities.stream) refuse('streaming', 'stream');
  const tools = parsed.body.tools;
  if (Array.isArray(tools) && tools.length > 0 && !capabilities.tools) refuse('tools', 'tools');
  if (!capabilities.vision && hasImages(parsed.body.messages)) refuse('image inputs', 'messages');
}
