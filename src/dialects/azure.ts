// Azure OpenAI's data-plane routes, as the `openai` SDK's `AzureOpenAI` client sends them:
// `POST /openai/deployments/{deployment}/{operation}?api-version=…` with an `api-key` header, and
// `POST /openai/responses?api-version=…` (its Responses calls name the deployment in the body's `model`). The
// request and the answer are OpenAI's (what an Azure deployment answers, content-filter results included when the
// provider is Azure), so each route is the OpenAI dialect of its operation with the model taken from the
// deployment: a deployment listed in an azure provider's `azure_key_config.deployments` is that model on that
// provider; else a model alias of that name; else the deployment's own name on the (first) azure provider, which
// is how the azure adapter names an unlisted deployment upstream. `api-version` and `api-key` are the client's
// business with Azure: the gateway uses its own configured key and version upstream.

import type { ProviderConfig } from '../config/types.js';
import type { IncomingRequest, Route, RouteHandler } from '../http/server.js';
import { createInferenceHandler, type PipelineDeps } from '../pipeline/index.js';
import type { ParsedRequest } from '../pipeline/parse.js';
import { completions } from './completions.js';
import type { Dialect } from './dialect.js';
import { imageGeneration, speech, transcription, withForm } from './media.js';
import { openAIChat, openAIEmbeddings } from './openai.js';
import { responses } from './responses.js';

/** The adapter whose providers' keys map models to deployments (`azure_key_config.deployments`). */
const AZURE_ADAPTER = 'azure';
const DEPLOYMENTS_PREFIX = '/openai/deployments/';
const API_VERSION = /(?:^|&)api-version=/;

/** Whether a request carries Azure's `api-version` query parameter, which only Azure clients send. */
export const hasApiVersion = (request: IncomingRequest): boolean => API_VERSION.test(request.query);

/** Deployment name → the model name the pipeline resolves (`provider/model`, or an alias). */
export function deploymentResolver(providers: ReadonlyMap<string, ProviderConfig>,
  aliases: Readonly<Record<string, string>>): (deployment: string) => string {
  const listed = new Map<string, string>();
  let firstAzure: string | null = null;
  for (const provider of providers.values()) {
    if (provider.adapter !== AZURE_ADAPTER) continue;
    firstAzure ??= provider.name;
    for (const key of provider.keys) {
      const deployments = (key.providerConfigs.azure_key_config as { deployments?: unknown } | undefined)?.deployments;
      if (typeof deployments !== 'object' || deployments === null) continue;
      for (const [model, deployment] of Object.entries(deployments as Record<string, unknown>)) {
        if (typeof deployment === 'string' && !listed.has(deployment)) listed.set(deployment, `${provider.name}/${model}`);
      }
    }
  }
  return (deployment) => listed.get(deployment)
    ?? (Object.hasOwn(aliases, deployment) || firstAzure === null ? deployment : `${firstAzure}/${deployment}`);
}

/** `inner` with the model taken from the deployment `deploymentOf` reads; a bare name is no provider's default. */
function onDeployment(inner: Dialect, deploymentOf: (request: IncomingRequest, parsed: ParsedRequest) => string,
  resolve: (deployment: string) => string): Dialect {
  return Object.freeze<Dialect>({
    ...inner,
    defaultProvider: null,
    // Azure's answers, not Bifrost's /v1 ones.
    extraFields: undefined,
    parse: (request) => {
      const parsed = inner.parse(request);
      parsed.body.model = resolve(deploymentOf(request, parsed));
      return parsed;
    },
  });
}

/** The `{deployment}` segment of `/openai/deployments/{deployment}/…`. */
function deploymentInPath(request: IncomingRequest): string {
  const rest = request.path.slice(DEPLOYMENTS_PREFIX.length);
  const segment = rest.slice(0, rest.indexOf('/'));
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const inBody = (_request: IncomingRequest, parsed: ParsedRequest): string => parsed.body.model;

/** The deployment routes, and the handler of `AzureOpenAI`'s `/openai/responses` calls. */
export function azureRoutes(deps: PipelineDeps): { routes: Route[]; responses: RouteHandler } {
  const resolve = deploymentResolver(deps.providers, deps.modelAliases);
  const operations: [string, Dialect, ((handler: RouteHandler) => RouteHandler)?][] = [
    ['chat/completions', openAIChat],
    ['completions', completions],
    ['embeddings', openAIEmbeddings],
    ['audio/speech', speech[0]],
    ['audio/transcriptions', transcription[0], withForm],
    ['images/generations', imageGeneration[0]],
  ];
  const routes = operations.map(([operation, dialect, before]): Route => {
    const handler = createInferenceHandler(deps, onDeployment(dialect, deploymentInPath, resolve));
    return { method: 'post', path: `${DEPLOYMENTS_PREFIX}:deployment/${operation}`,
      label: `${DEPLOYMENTS_PREFIX}{deployment}/${operation}`, readBody: true, handler: before ? before(handler) : handler };
  });
  return { routes, responses: createInferenceHandler(deps, onDeployment(responses, inBody, resolve)) };
}
