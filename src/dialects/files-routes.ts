// Every files and batches route, one list for src/gateway.ts: OpenAI's (/v1, /openai/v1, /openai), Anthropic's
// (/anthropic), Google's and Vertex AI's (/genai) and Bedrock's (/bedrock). See docs/files-and-batches.md.

import type { Route } from '../http/server.js';
import type { FilesDeps } from '../pipeline/files.js';
import { anthropicFilesRoutes } from './files-anthropic.js';
import { bedrockFilesRoutes } from './files-bedrock.js';
import { genaiFilesRoutes } from './files-genai.js';
import { openAIFilesRoutes } from './files-openai.js';
import { vertexBatchRoutes } from './files-vertex.js';

export { genaiBatchCreateHandler } from './files-genai.js';

/** `maxUploadBytes`: client.max_request_body_size_mb, which also bounds a resumable upload held by the gateway. */
export function filesRoutes(deps: FilesDeps, maxUploadBytes: number): Route[] {
  return [...openAIFilesRoutes(deps, maxUploadBytes * 4), ...anthropicFilesRoutes(deps), ...genaiFilesRoutes(deps, maxUploadBytes), ...bedrockFilesRoutes(deps),
    ...vertexBatchRoutes(deps)];
}
