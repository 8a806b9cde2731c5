// Azure OpenAI's Batch API behind OpenAI's files and batches routes. Azure's is OpenAI's at the resource's /openai
// with an api-version (the azure adapter puts the calls there), but a batch names deployments, not models: each line
// of an uploaded batch file has its `body.model` read through the chosen key's `azure_key_config.deployments` (a
// model not listed is its own deployment, as for chat) and its `url` without OpenAI's `/v1`, and a batch's
// `endpoint` loses the `/v1` too, as Azure's api-version routes want (`/chat/completions`).

import type { ProviderConfig } from '../config/types.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { PreparedCall } from '../pipeline/files.js';

type Upstream = PreparedCall['upstream'];

const AZURE_ADAPTER = 'azure';
const withoutV1 = (path: unknown) => (typeof path === 'string' ? path.replace(/^\/v1(?=\/)/, '') : path);

function deploymentsOf(provider: ProviderConfig, keyIndex: number): Readonly<Record<string, unknown>> {
  const config = provider.keys[keyIndex]?.providerConfigs.azure_key_config as { deployments?: unknown } | undefined;
  const deployments = config?.deployments;
  return typeof deployments === 'object' && deployments !== null ? deployments as Record<string, unknown> : {};
}

/** One JSONL line of a batch file, for Azure; `at` is its line number for errors. */
function azureLine(line: string, at: number, provider: string, deployments: Readonly<Record<string, unknown>>): string {
  let request: Record<string, unknown>;
  try {
    request = JSON.parse(line) as Record<string, unknown>;
  } catch (error) {
    throw new GatewayError('INVALID_REQUEST', `line ${at} of the batch file is not JSON: ${(error as Error).message}`, { param: 'file' });
  }
  const body = request.body as Record<string, unknown> | undefined;
  if (typeof request !== 'object' || request === null || typeof body !== 'object' || body === null) {
    throw new GatewayError('INVALID_REQUEST', `line ${at} of the batch file needs a 'body' object`, { param: 'file' });
  }
  let model = typeof body.model === 'string' ? body.model : '';
  if (model.startsWith(`${provider}/`)) model = model.slice(provider.length + 1);
  const deployment = Object.hasOwn(deployments, model) && typeof deployments[model] === 'string' ? deployments[model] as string : model;
  return JSON.stringify({ ...request, url: withoutV1(request.url), body: { ...body, model: deployment } });
}

/** An upload for an azure provider: a batch file's lines name the key's deployments. */
export async function azureUpload(upstream: Upstream, provider: ProviderConfig, keyIndex: number): Promise<Upstream | undefined> {
  if (provider.adapter !== AZURE_ADAPTER || !upstream.body || !upstream.contentType) return undefined;
  const form = await new Response(upstream.body, { headers: { 'content-type': upstream.contentType } }).formData();
  const file = form.get('file');
  if (form.get('purpose') !== 'batch' || !(file instanceof File)) return undefined;
  const deployments = deploymentsOf(provider, keyIndex);
  const lines = (await file.text()).split('\n').map((line, i) => (line.trim() === '' ? line : azureLine(line, i + 1, provider.name, deployments)));
  form.set('file', new File([lines.join('\n')], file.name, { type: file.type }));
  const encoded = new Response(form);
  return { ...upstream, contentType: encoded.headers.get('content-type'), body: new Uint8Array(await encoded.arrayBuffer()) };
}

/** A batch for an azure provider: its endpoint as Azure's api-version routes name it. */
export function azureBatchCreate(upstream: Upstream, provider: ProviderConfig): Upstream | undefined {
  if (provider.adapter !== AZURE_ADAPTER || !upstream.body) return undefined;
  const body = JSON.parse(Buffer.from(upstream.body).toString('utf8')) as Record<string, unknown>;
  return { ...upstream, body: Buffer.from(JSON.stringify({ ...body, endpoint: withoutV1(body.endpoint) })) };
}

/** The provider an `AzureOpenAI` client's call goes to: the built-in azure provider, the only one with Azure's API. */
export function azureFilesProvider(providers: ReadonlyMap<string, ProviderConfig>): string {
  if (providers.get(AZURE_ADAPTER)?.adapter === AZURE_ADAPTER) return AZURE_ADAPTER;
  throw new GatewayError('INVALID_REQUEST', "an Azure OpenAI client's files or batches call (it sends api-version) needs the "
    + "'azure' provider configured; name another provider in the 'x-model-provider' header", { param: 'provider' });
}
