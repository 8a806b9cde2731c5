// Every error the gateway can answer with, in one table: its HTTP status, OpenAI error type, whether a retry
// may help, whether a fallback to another provider may help, and how loudly to log it. Code that fails picks a
// code here; nothing else decides a status. The error table in docs/api.md is checked against this one by a test.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ErrorSpec {
  readonly status: number;
  /** OpenAI's `error.type` for this code. */
  readonly type: string;
  readonly retryable: boolean;
  readonly mayFallBack: boolean;
  readonly logLevel: LogLevel;
  readonly description: string;
}

const spec = (status: number, type: string, retryable: boolean, mayFallBack: boolean, logLevel: LogLevel,
  description: string): ErrorSpec => Object.freeze({ status, type, retryable, mayFallBack, logLevel, description });

export const ERROR_CODES = Object.freeze({
  INVALID_JSON: spec(400, 'invalid_request_error', false, false, 'debug', 'The body is not valid JSON (or not UTF-8).'),
  INVALID_REQUEST: spec(400, 'invalid_request_error', false, false, 'debug', 'A field is missing or has the wrong type.'),
  BODY_TOO_LARGE: spec(413, 'invalid_request_error', false, false, 'info', 'The body is over client.max_request_body_size_mb (or a smaller large_payload_optimization.max_payload_bytes).'),
  RESOURCE_NOT_FOUND: spec(404, 'invalid_request_error', false, false, 'debug', 'No file or batch with that id is known to the gateway, and the call names no provider.'),
  BATCH_CONFIG_MISSING: spec(400, 'invalid_request_error', false, false, 'info', "The key chosen for a files or batches call lacks a setting the provider needs for it (Bedrock: bedrock_key_config.batch_s3_config's bucket or role)."),
  UNKNOWN_ROUTE: spec(404, 'invalid_request_error', false, false, 'debug', 'No such path.'),
  METHOD_NOT_ALLOWED: spec(405, 'invalid_request_error', false, false, 'debug', 'The path exists but not for this method.'),
  UNKNOWN_PROVIDER: spec(404, 'invalid_request_error', false, false, 'debug', 'The provider in provider/model is not configured.'),
  MODEL_NOT_ALLOWED: spec(404, 'invalid_request_error', false, true, 'debug', 'No enabled key of the provider allows this model.'),
  UNSUPPORTED_CAPABILITY: spec(400, 'invalid_request_error', false, true, 'debug', 'The provider cannot do what the request asks (embeddings, tools, images, streaming).'),
  QUEUE_FULL: spec(429, 'rate_limit_error', true, true, 'info', "The provider's queue is full (client.drop_excess_requests)."),
  UPSTREAM_BAD_REQUEST: spec(400, 'invalid_request_error', false, false, 'info', 'The provider rejected the request.'),
  UPSTREAM_AUTH: spec(401, 'authentication_error', false, true, 'warn', "The provider refused the gateway's key."),
  UPSTREAM_FORBIDDEN: spec(403, 'permission_error', false, true, 'warn', 'The provider denied access.'),
  UPSTREAM_NOT_FOUND: spec(404, 'invalid_request_error', false, true, 'info', 'The provider does not know the model or path.'),
  UPSTREAM_RATE_LIMITED: spec(429, 'rate_limit_error', true, true, 'info', 'The provider rate-limited the request.'),
  UPSTREAM_ERROR: spec(502, 'api_error', true, true, 'warn', 'The provider failed or answered something unreadable.'),
  UPSTREAM_UNREACHABLE: spec(502, 'api_error', true, true, 'warn', 'The provider could not be reached.'),
  UPSTREAM_UNAVAILABLE: spec(503, 'api_error', true, true, 'warn', 'The provider said it is unavailable.'),
  UPSTREAM_TIMEOUT: spec(504, 'api_error', true, true, 'warn', 'No complete answer within default_request_timeout_in_seconds (queue and stream included).'),
  FIRST_TOKEN_TIMEOUT: spec(504, 'api_error', true, true, 'warn', "A stream's first chunk did not come within first_token_timeout_in_seconds."),
  STREAM_IDLE_TIMEOUT: spec(504, 'api_error', false, false, 'warn', 'A stream in progress went quiet past stream_idle_timeout_in_seconds.'),
  CIRCUIT_OPEN: spec(503, 'api_error', false, true, 'info', "Every key of the provider that allows the model has its circuit breaker open."),
  STREAM_INTERRUPTED: spec(502, 'api_error', false, false, 'warn', 'The provider failed after the stream had started.'),
  WORKER_DIED: spec(502, 'api_error', true, true, 'error', "The provider's worker thread died with the request in flight."),
  PROVIDER_SHUTTING_DOWN: spec(503, 'api_error', true, true, 'info', 'The gateway is shutting down.'),
  CLIENT_CLOSED: spec(499, 'invalid_request_error', false, false, 'debug', 'The client went away first.'),
  PLUGIN_REJECTED: spec(400, 'invalid_request_error', false, false, 'info', 'A plugin refused the request.'),
  PLUGIN_FAILED: spec(500, 'api_error', false, false, 'error', 'A plugin threw.'),
  PLUGIN_TIMEOUT: spec(504, 'api_error', false, false, 'error', "A plugin's preHook or postHook did not settle within default_request_timeout_in_seconds."),
  MCP_NOT_CONFIGURED: spec(404, 'invalid_request_error', false, false, 'debug', 'An MCP route, and no MCP client is configured (mcp.client_configs).'),
  MCP_UNKNOWN_TOOL: spec(404, 'invalid_request_error', false, false, 'debug', 'No MCP tool of that name (`<client>_<tool>`).'),
  MCP_TOOL_NOT_PERMITTED: spec(403, 'permission_error', false, false, 'info', "The MCP tool exists but may not run: not in its client's tools_to_execute, or left out by the x-bf-mcp-include-* headers."),
  MCP_INVALID_ARGUMENTS: spec(400, 'invalid_request_error', false, false, 'debug', "A tool call's arguments are not a JSON object or do not match the tool's input schema."),
  MCP_TOOL_TIMEOUT: spec(504, 'api_error', false, false, 'warn', 'An MCP tool did not answer within client.mcp_tool_execution_timeout; the call was cancelled on its server.'),
  MCP_SERVER_UNAVAILABLE: spec(503, 'api_error', true, false, 'warn', "The tool's MCP server is not connected (it is being retried)."),
  MCP_SERVER_FAILED: spec(502, 'api_error', false, false, 'warn', "The tool's MCP server failed during the call (its process died, the connection broke, a protocol error)."),
  VIRTUAL_KEY_REQUIRED: spec(401, 'authentication_error', false, false, 'info', 'No virtual key was sent and client.enforce_auth_on_inference requires one.'),
  VIRTUAL_KEY_INVALID: spec(401, 'authentication_error', false, false, 'info', 'The key sent is not a virtual key of this gateway (unknown, malformed or too long).'),
  VIRTUAL_KEY_INACTIVE: spec(401, 'authentication_error', false, false, 'info', 'The virtual key exists but is_active is false.'),
  PROVIDER_NOT_ALLOWED: spec(403, 'permission_error', false, true, 'info', "The virtual key's provider_configs do not include the provider."),
  MODEL_FORBIDDEN: spec(403, 'permission_error', false, true, 'info', "The virtual key's allowed_models for the provider do not include the model."),
  PROVIDER_KEY_FORBIDDEN: spec(403, 'permission_error', false, true, 'info', 'None of the provider keys the virtual key may use (provider_configs[].keys) allows the model.'),
  RATE_LIMITED: spec(429, 'rate_limit_error', false, false, 'info', 'A rate limit of the virtual key, its team or its customer is reached; Retry-After says when it resets.'),
  BUDGET_EXCEEDED: spec(402, 'insufficient_quota', false, false, 'info', "The request's worst-case cost does not fit in a budget of the virtual key, its team or its customer."),
  MODEL_NOT_PRICED: spec(403, 'permission_error', false, false, 'info', 'The virtual key has a budget, and the model has no price or no output limit (set max_tokens).'),
  GOVERNANCE_UNAVAILABLE: spec(503, 'api_error', true, false, 'error', 'The shared counters (Redis) cannot be reached and governance.state.on_unavailable is closed.'),
  ADMIN_LOOPBACK_ONLY: spec(403, 'permission_error', false, false, 'warn', 'An admin route (/api/...) called from another host than this one while no admin credentials are configured.'),
  ADMIN_UNAUTHORIZED: spec(401, 'authentication_error', false, false, 'warn', 'An admin route (/api/...) called without the configured admin credentials, or with wrong ones.'),
  GOVERNANCE_NOT_FOUND: spec(404, 'invalid_request_error', false, false, 'debug', 'No virtual key, team or customer has that id (/api/governance/...).'),
  GOVERNANCE_STORE_DISABLED: spec(409, 'invalid_request_error', false, false, 'info', 'Governance cannot be changed through the admin API: neither the request log store nor Redis (governance.state) is there to keep the changes.'),
  GOVERNANCE_STORE_UNAVAILABLE: spec(503, 'api_error', true, false, 'error', 'The config store could not take a governance change: nothing was changed.'),
  LOG_NOT_FOUND: spec(404, 'invalid_request_error', false, false, 'debug', 'No request log record has that id (never logged, or past log_retention_days).'),
  LOGS_DISABLED: spec(409, 'invalid_request_error', false, false, 'info', 'Request logging is off (client.enable_logging or logs_store.enabled is false).'),
  LOG_STORE_UNAVAILABLE: spec(503, 'api_error', true, false, 'error', 'The request log store could not answer the query.'),
  RELOAD_UNAVAILABLE: spec(409, 'invalid_request_error', false, false, 'info', 'No reload now: one process without a supervisor (--processes 1), a reload already running, or a shutdown.'),
  CONFIG_INVALID: spec(400, 'invalid_request_error', false, false, 'warn', 'The config file has a mistake: nothing was reloaded.'),
  RELOAD_FAILED: spec(500, 'api_error', false, false, 'error', 'A process with the new config did not start: the running ones keep serving.'),
  INTERNAL: spec(500, 'api_error', false, false, 'error', 'A bug in the gateway.'),
} satisfies Record<string, ErrorSpec>);

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
