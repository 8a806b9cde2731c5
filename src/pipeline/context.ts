import type { Logger } from 'pino';
import type { CacheDirectives } from '../cache/index.js';
import type { JobKind } from '../contract/messages.js';
import type { IncomingRequest } from '../http/server.js';
import type { ToolSet } from '../mcp/tools.js';
import type { PluginContext } from '../plugins/contract.js';
import type { RequestTrace } from '../observability/tracing/spans.js';

/** One request's state on its way through the pipeline; plugins see it as their PluginContext. */
export class RequestContext implements PluginContext {
  readonly requestId: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly receivedAt: number;
  kind: JobKind = 'chat';
  /** The API the client spoke (src/dialects/): `completions` is OpenAI's legacy one, priced as text_completion. */
  dialect = '';
  provider = '';
  model = '';
  stream = false;
  /**
   * What the route's translation of this attempt's request left out (ParsedRequest.dropped), reported in
   * `x-heimdall-dropped-params` beside what the provider's adapter dropped; null when the attempt sends it natively.
   */
  droppedByRoute: readonly string[] | null = null;
  /** The request timeout of the provider the request is routed to, which also bounds its plugins' async hooks. */
  hookTimeoutMs = Infinity;
  /** The MCP tools this request is given (src/mcp/tools.ts); null without any. */
  mcpTools: ToolSet | null = null;
  /** The request's `x-bf-cache-*` headers, checked (src/cache); set only while the cache is configured. */
  cacheDirectives: CacheDirectives | null = null;
  /** The request's trace when it is sampled; null otherwise, and then no stage records anything. */
  trace: RequestTrace | null = null;
  readonly #baseLogger: Logger;
  #logger: Logger | null = null;
  #values: Map<string, unknown> | null = null;

  constructor(request: IncomingRequest, logger: Logger) {
    this.requestId = request.requestId;
    this.headers = request.headers;
    this.receivedAt = request.receivedAt;
    this.#baseLogger = logger;
  }

  get values(): Map<string, unknown> {
    return (this.#values ??= new Map());
  }

  /** A child logger carrying the request id, made only when something is logged. */
  get logger(): Logger {
    return (this.#logger ??= this.#baseLogger.child({ requestId: this.requestId }));
  }
}
