// The bundle prefixes `/litellm`, `/langchain` and `/pydanticai`: each mounts the OpenAI, Anthropic, GenAI, Bedrock
// and Cohere route sets under its own prefix, so a framework's proxy mode (LiteLLM's, LangChain's, PydanticAI's) can
// point every SDK it wraps at one base URL. A route is mounted twice: with its SDK's prefix kept
// (`/litellm/anthropic/v1/messages`) and, as Bifrost mounts them, without it (`/litellm/v1/messages`,
// `/litellm/v1/chat/completions`, `/litellm/model/{id}/converse`); where two sets share a path (`GET /v1/models`)
// the OpenAI one, mounted first, wins. The handler sees the path as its own route has it, so it reads the model,
// the method or the file id where it always does; answers and errors are the route's own.

import type { NativePrefix, Route } from '../http/server.js';

export const BUNDLE_PREFIXES = Object.freeze(['/litellm', '/langchain', '/pydanticai']);

/** The SDK prefixes whose route sets a bundle mounts, OpenAI's first. */
const MOUNTED = ['/openai', '/anthropic', '/genai', '/bedrock', '/cohere'];

export function bundleRoutes(routes: readonly Route[], nativePrefixes: readonly NativePrefix[]): Route[] {
  const mounted: Route[] = [];
  const taken = new Set(routes.map((route) => `${route.method} ${route.path}`));
  for (const bundle of BUNDLE_PREFIXES) {
    for (const sdk of MOUNTED) {
      const shape = nativePrefixes.find((native) => native.prefix === sdk);
      for (const route of routes) {
        if (!route.path.startsWith(`${sdk}/`)) continue;
        const mount = (path: string, original: (requested: string) => string) => {
          if (taken.has(`${route.method} ${path}`)) return;
          taken.add(`${route.method} ${path}`);
          const { handler } = route;
          const errorBody = route.errorBody ?? shape?.errorBody;
          const errorHeaders = route.errorHeaders ?? shape?.errorHeaders;
          mounted.push({
            method: route.method,
            path,
            // One label per bundle: its routes would otherwise take a metrics label slot each.
            label: bundle,
            readBody: route.readBody,
            ...(route.remoteAddress ? { remoteAddress: true } : {}),
            ...(errorBody ? { errorBody } : {}),
            ...(errorHeaders ? { errorHeaders } : {}),
            handler: (request, sink) => handler({ ...request, path: original(request.path) }, sink),
          });
        };
        mount(`${bundle}${route.path}`, (requested) => requested.slice(bundle.length));
        mount(`${bundle}${route.path.slice(sdk.length)}`, (requested) => `${sdk}${requested.slice(bundle.length)}`);
      }
    }
  }
  return mounted;
}
