// A files or batches call in the provider's own API, as the client made it: the same method, path, query, body
// and content type, at the provider's base URL. Adapters with such an API (capability `files`) build on this and
// add what their API needs besides (a version header, another host for one kind of call).

import type { FilesRequest } from '../../src/contract/messages.js';
import { joinUrl } from '../upstream/url.js';
import type { UpstreamCall } from './types.js';

export function forwardFilesCall(baseUrl: string, request: FilesRequest, headers: Record<string, string> = {}): UpstreamCall {
  return {
    ...(request.method === 'POST' ? {} : { method: request.method }),
    url: joinUrl(baseUrl, request.query ? `${request.path}?${request.query}` : request.path),
    headers: { ...request.headers, ...headers },
    body: '',
    bytes: request.body,
    contentType: request.contentType,
    droppedParams: [],
  };
}
