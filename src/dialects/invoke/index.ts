// Which family an InvokeModel body is: the model id's family first (a Bedrock model id, or an alias named after
// one), then the body's own fields. Anthropic's Messages and Titan's and Cohere's embeddings bodies are read in
// bedrock-invoke.ts.

import { cohereCommand } from './cohere-command.js';
import { deepseek } from './deepseek.js';
import type { InvokeFamily, Json } from './family.js';
import { llama } from './llama.js';
import { mistral } from './mistral.js';
import { nova } from './nova.js';
import { openaiFormat } from './openai-format.js';
import { titanText } from './titan-text.js';

export const FAMILIES: readonly InvokeFamily[] = Object.freeze([llama, mistral, deepseek, cohereCommand, nova, titanText, openaiFormat]);

export type Family = InvokeFamily | 'anthropic' | 'titan-embeddings' | 'cohere-embeddings';

const ANTHROPIC_MODELS = /(^|[./])anthropic\.claude/;
const TITAN_EMBEDDINGS = /(^|[./])amazon\.titan-embed/;
const COHERE_EMBEDDINGS = /(^|[./])cohere\.embed/;

/** The family by model id, then by fields; null when neither tells. */
export function familyOf(modelId: string, body: Json): Family | null {
  if (ANTHROPIC_MODELS.test(modelId)) return 'anthropic';
  if (TITAN_EMBEDDINGS.test(modelId)) return 'titan-embeddings';
  if (COHERE_EMBEDDINGS.test(modelId)) return 'cohere-embeddings';
  const byModel = FAMILIES.find((family) => family.models.test(modelId));
  if (byModel) return byModel;
  if (typeof body.anthropic_version === 'string') return 'anthropic';
  const byFields = FAMILIES.find((family) => family.owns(body));
  if (byFields) return byFields;
  if (Array.isArray(body.messages)) return 'anthropic';
  if (typeof body.inputText === 'string') return 'titan-embeddings';
  if (Array.isArray(body.texts)) return 'cohere-embeddings';
  return null;
}
