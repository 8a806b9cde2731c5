// The validated, defaulted and frozen config the rest of the front thread reads. Only `load.ts` builds it;
// everything else treats it as read-only data. Secrets are already resolved from `env.VAR` here.
import type { CacheConfig } from '../cache/config.js';
import type { RingShape } from '../contract/ring-layout.js';
import type { StoreTarget } from '../stores/store-config.js';

import type { RawGovernance } from '../governance/schema.js';
import type { PricingOverride } from '../pricing/overrides.js';

export interface KeyConfig {
  readonly id: string;
  readonly name: string;
  /** The resolved secret; empty for keyless providers. Never logged: see `redactConfig`. */
  readonly value: string;
  /** `null` means every model (`models` absent or `["*"]`). */
  readonly models: readonly string[] | null;
  readonly blacklistedModels: readonly string[];
  readonly weight: number;
  readonly enabled: boolean;
  /** `use_for_batch_api`: when any key of its provider sets it, only those keys serve files and batches. */
  readonly useForBatchApi?: boolean;
  /**
   * The key's provider-specific blocks by field name (`azure_key_config`, `bedrock_key_config`, …), secrets
   * resolved. Only the adapter of the key's provider interprets them.
   */
  readonly providerConfigs: Readonly<Record<string, unknown>>;
}

export interface NetworkConfig {
  readonly baseUrl: string | null;
  readonly extraHeaders: Readonly<Record<string, string>>;
  /** The whole request, queue and stream included. */
  readonly requestTimeoutSeconds: number;
  /** From sending a streamed request upstream to its first chunk; null: only the total applies. */
  readonly firstTokenTimeoutSeconds: number | null;
  /** The longest gap between two upstream chunks of a stream in progress. */
  readonly streamIdleTimeoutSeconds: number;
  readonly maxRetries: number;
  readonly retryBackoffInitialMs: number;
  readonly retryBackoffMaxMs: number;
  readonly maxConnsPerHost: number;
  /** Accept any upstream certificate (Bifrost's `insecure_skip_verify`): for tests and labs only. */
  readonly insecureSkipVerify: boolean;
  /** PEM certificates trusted for the upstream's TLS, besides the system's; null: the system's only. */
  readonly caCertPem: string | null;
}

/**
 * `providers.<name>.proxy_config`, env references resolved. Type `none`, or absent with no proxy variable in the
 * environment: connect directly. Absent with HTTPS_PROXY or HTTP_PROXY set: type `environment`.
 */
export interface ProxyConfig {
  /** `environment`: HTTPS_PROXY / HTTP_PROXY / NO_PROXY as the process sees them. */
  readonly type: 'http' | 'socks5' | 'environment';
  /** http(s):// for `http`, socks5:// for `socks5`; null for `environment`. */
  readonly url: string | null;
  readonly username: string | null;
  readonly password: string | null;
  /** PEM certificates trusted for TLS through the proxy (an https:// proxy, or one that re-signs upstream TLS). */
  readonly caCertPem: string | null;
  /** For `environment`: HTTP_PROXY, HTTPS_PROXY and NO_PROXY as they were at start-up. */
  readonly environment: {
    readonly httpProxy: string | null;
    readonly httpsProxy: string | null;
    readonly noProxy: string | null;
  } | null;
}

export interface ConcurrencyConfig {
  /** In-flight requests per provider. */
  readonly concurrency: number;
  /** Requests allowed to wait behind `concurrency`. */
  readonly bufferSize: number;
  /** Worker threads in this provider's pool. */
  readonly threads: number;
  /** Start the pool at boot and keep it; otherwise it starts on first use and retires after `idleTimeoutMs`. */
  readonly warm: boolean;
  readonly idleTimeoutMs: number;
  /** V8 limits of each worker thread (Node's `resourceLimits`); absent fields keep V8's defaults. */
  readonly resourceLimits: {
    readonly maxOldGenerationSizeMb?: number;
    readonly maxYoungGenerationSizeMb?: number;
    readonly stackSizeMb?: number;
  };
  /** The shape of each thread's two rings (`resource_limits.ring_*`); null: the gateway's default. */
  readonly ring: RingShape | null;
}

export interface MockProviderOptions {
  readonly latencyMs: number;
  readonly chunkCount: number;
  readonly chunkIntervalMs: number;
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
}

/** `providers.<name>.circuit_breaker`: when a key is taken out of rotation, and for how long. */
export interface CircuitBreakerConfig {
  readonly enabled: boolean;
  /** Failures in a row that open the breaker. */
  readonly consecutiveFailures: number;
  /** Share of failed tries (0–1] in the window that opens it, once the window holds `minRequests` tries. */
  readonly errorRateThreshold: number;
  readonly windowSeconds: number;
  readonly minRequests: number;
  /** The first cool-down; each failed probe doubles it, up to `maxCooldownSeconds`. */
  readonly cooldownSeconds: number;
  readonly maxCooldownSeconds: number;
  /** Requests let through at once while half-open. */
  readonly halfOpenProbes: number;
}

export interface ProviderConfig {
  /** The name used in `provider/model`. */
  readonly name: string;
  /** Which adapter serves it: the name itself for built-ins, `base_provider_type` for custom providers. */
  readonly adapter: string;
  readonly keyless: boolean;
  readonly keys: readonly KeyConfig[];
  readonly network: NetworkConfig;
  readonly concurrency: ConcurrencyConfig;
  readonly mock: MockProviderOptions | null;
  /** `provider/model` tried in order when a request to this provider fails and names no `fallbacks` itself. */
  readonly fallbacks: readonly string[];
  readonly circuitBreaker: CircuitBreakerConfig;
  readonly proxy: ProxyConfig | null;
  /** `pricing_overrides`, prices in the price table's units (per million tokens). */
  readonly pricingOverrides: readonly PricingOverride[];
  /** The passthrough routes (`/openai_passthrough/…`) may reach it: always for a built-in provider, for a custom one
   * when `custom_provider_config.allowed_requests.passthrough` is true, as Bifrost gates them. */
  readonly passthrough: boolean;
  /** A passthrough call that asks for a stream may reach it: always for a built-in provider, for a custom one when
   * `custom_provider_config.allowed_requests.passthrough_stream` is true. */
  readonly passthroughStream: boolean;
}

export interface PluginConfig {
  readonly name: string;
  /** A module path for a user's plugin, resolved against the config file's folder; null for built-ins. */
  readonly path: string | null;
  readonly enabled: boolean;
  readonly config: Readonly<Record<string, unknown>>;
}

export interface ClientConfig {
  readonly dropExcessRequests: boolean;
  /** Browser origins whose pages may call the API (CORS); `*` for any; empty: no CORS headers. */
  readonly allowedOrigins: readonly string[];
  readonly maxRequestBodySizeMb: number;
  /**
   * The largest body read, in bytes: `max_request_body_size_mb`, or `large_payload_optimization.max_payload_bytes`
   * when that is enabled and smaller; `maxRequestBodySetting` names which, for the 413's message.
   */
  readonly maxRequestBodyBytes: number;
  readonly maxRequestBodySetting: string;
  readonly shutdownGraceSeconds: number;
  /** One log line per request (`client.access_log`). */
  readonly accessLog: boolean;
  /** Bifrost's `extra_fields` on /v1 answers (`client.extra_fields`). */
  readonly extraFields: boolean;
  /** Seconds a `/v1/async/*` job's result is kept (`client.async_job_result_ttl`). */
  readonly asyncJobResultTtlSeconds: number;
  /** Label names of the HTTP metrics whose values come from `x-bf-prom-<label>` request headers. */
  readonly prometheusLabels: readonly string[];
}

/** The request log (`client.enable_logging`, `client.disable_content_logging`, `logs_store`): docs/logs.md. */
export interface RequestLogConfig {
  /** False when `client.enable_logging` or `logs_store.enabled` is false. */
  readonly enabled: boolean;
  /** Whether records keep the request and the answer (`client.disable_content_logging` false). */
  readonly content: boolean;
  /** Records older than this are deleted; 0 keeps them forever. */
  readonly retentionDays: number;
  /** Where records go; for SQLite an absolute path. PostgreSQL credentials are resolved from `env.VAR`. */
  readonly target: StoreTarget;
  /** Records waiting to be written, at most (`logs_store.writer.write_queue_capacity`). */
  readonly queueCapacity: number;
  /** Records per write transaction (`logs_store.writer.max_batch_size`). */
  readonly batchSize: number;
  /** `logs_store.search_index`: a trigram index of the content for `content_search` (costs the writer); default on for
   * PostgreSQL, off for SQLite. */
  readonly searchIndex: boolean;
  /** The longest a record waits for its batch (`logs_store.writer.batch_interval`). */
  readonly flushIntervalMs: number;
}

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  /** A second port speaking HTTP/2 in cleartext (src/http/h2c-bridge.ts); null: none. */
  readonly h2cPort: number | null;
}

/** How many gateway processes run: 1 is one process and no supervisor; more, or `auto`, runs the supervisor. */
export interface ProcessesConfig {
  /** As written (`--processes`, HEIMDALL_PROCESSES, `heimdall.processes`): a number or `auto`. */
  readonly setting: number | 'auto';
  /** `setting` resolved: `auto` is the cores this process may use (`os.availableParallelism()`). */
  readonly count: number;
  /** Whether a supervisor runs the gateway in child processes (every setting but 1). */
  readonly supervised: boolean;
}

/** One `mcp.client_configs[]` entry: an MCP server the gateway connects to, and which of its tools may run. */
export interface McpClientConfig {
  /** Prefixes its tools' names as models see them: `<name>_<tool>`. */
  readonly name: string;
  readonly connectionType: 'stdio' | 'http' | 'sse';
  /** stdio: the server's command line. */
  readonly command: string | null;
  readonly args: readonly string[];
  /** stdio: the gateway's environment variables the server process gets (beside a safe default set), values resolved. */
  readonly env: Readonly<Record<string, string>>;
  /** http / sse: the server's URL, `env.VAR` resolved. */
  readonly url: string | null;
  /** Sent with every HTTP request to the server, `env.VAR` values resolved (masked in logs). */
  readonly headers: Readonly<Record<string, string>>;
  /** The tools that may run (by their name on the server); null: every tool. */
  readonly toolsToExecute: readonly string[] | null;
  /** The tools agent mode runs without asking the client; null: every tool that may run. */
  readonly toolsToAutoExecute: readonly string[] | null;
  /** Ping the server to notice a dead connection (Bifrost's `is_ping_available`). */
  readonly ping: boolean;
  /** How often the tool list is listed again; 0: only on connect and on the server's list_changed. */
  readonly syncIntervalMs: number;
}

/** The `mcp` block with the client-level MCP settings; null in GatewayConfig when no MCP client is configured. */
export interface McpConfig {
  readonly clients: readonly McpClientConfig[];
  /** Model turns in one agent-mode request (`client.mcp_agent_depth`, default 10). */
  readonly agentDepth: number;
  /** One tool call's time limit (`client.mcp_tool_execution_timeout`, default 30 s). */
  readonly toolTimeoutMs: number;
}

/** The `governance` block, validated (src/governance/schema.ts); compiled by the gateway at start. */
export interface GovernanceConfig {
  /** `client.enforce_auth_on_inference` (or its old spellings): every inference request needs a virtual key. */
  readonly enforceAuth: boolean;
  readonly raw: RawGovernance;
}

/** Who may call `/api/*` (src/config/admin.ts); with neither, loopback clients only. */
export interface AdminConfig {
  /** `governance.auth_config`'s admin username and password, for HTTP basic auth. */
  readonly basic: { readonly username: string; readonly password: string } | null;
  /** HEIMDALL_ADMIN_TOKEN, for `Authorization: Bearer`. */
  readonly bearerToken: string | null;
}

export interface GatewayConfig {
  readonly server: ServerConfig;
  readonly processes: ProcessesConfig;
  readonly client: ClientConfig;
  readonly providers: readonly ProviderConfig[];
  /**
   * Providers the config names that Heimdall has no adapter for (Bifrost's `elevenlabs`, …): loaded with a warning,
   * not served; a request for one is told so.
   */
  readonly unsupportedProviders: readonly string[];
  /** A name clients may send as `model`, and the `provider/model` it stands for. */
  readonly modelAliases: Readonly<Record<string, string>>;
  readonly plugins: readonly PluginConfig[];
  /** The response cache (Bifrost's `semantic_cache` plugin entry); null when it is not configured. */
  readonly cache?: CacheConfig | null;
  /** MCP servers and settings; null when none is configured (the request path then pays nothing for MCP). */
  readonly mcp: McpConfig | null;
  readonly governance: GovernanceConfig;
  readonly admin: AdminConfig;
  readonly requestLog: RequestLogConfig;
  /** Bytes from which a message between the front and a worker crosses by transfer rather than the ring's slots. */
  readonly largeMessageBytes: { readonly toWorker: number; readonly toFront: number };
  /** Traces over OTLP; null when tracing is off. */
  readonly tracing: TracingConfig | null;
  /** Where the config came from, for the start-up log: a file path or "embedded default". */
  readonly source: string;
  /** Bifrost keys that loaded but Heimdall does not act on yet, reported once at start. */
  readonly ignoredKeys: readonly string[];
  /** What the operator should know about how the config was read (providers not served, keys allowing no model). */
  readonly warnings: readonly string[];
}

/** Tracing (src/observability/tracing), from the `otel` plugin entry and the OTEL_* variables; see docs/tracing.md. */
export interface TracingConfig {
  readonly protocol: 'http' | 'grpc';
  /** HTTP: the full URL posted to (`…/v1/traces`); gRPC: `http(s)://host:port`. */
  readonly endpoint: string;
  /** Header names in lower case, values resolved from `env.VAR`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Resource attributes, `service.name` always among them. */
  readonly resource: Readonly<Record<string, string>>;
  /** PEM text of the CA that signs the collector's certificate; null: the system's. */
  readonly tlsCa: string | null;
  /** The share of new traces recorded; a caller's sampled flag is always followed. */
  readonly sampleRate: number;
  /** Send `traceparent` to the provider with each upstream try. */
  readonly propagateTraceparent: boolean;
  /** Prompt and completion text on the attempt spans. */
  readonly captureContent: boolean;
  readonly maxQueueSpans: number;
  readonly maxBatchSpans: number;
  readonly exportTimeoutMs: number;
  readonly scheduleDelayMs: number;
}
