// Tools the gateway adds to a request (MCP), which a job carries as the JSON text of an array (JobData.tools): made
// once per tool list on the front thread, so a request with fifty tools does not encode fifty schemas. An
// OpenAI-compatible body takes the text as it is (`jsonWithTools`); every other adapter gets the tools parsed into
// the body (`withToolsParsed`), each distinct text parsed once per worker and frozen, so no adapter can change the
// shared objects.

import type { JobData } from '../../src/contract/messages.js';

/** Distinct tool lists kept parsed; past this many the cache starts over (lists change only with the MCP servers'). */
const MAX_PARSED = 16;
const parsed = new Map<string, readonly unknown[]>();

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

function parsedTools(text: string): readonly unknown[] {
  let tools = parsed.get(text);
  if (!tools) {
    if (parsed.size >= MAX_PARSED) parsed.clear();
    tools = deepFreeze(JSON.parse(text) as unknown[]);
    parsed.set(text, tools);
  }
  return tools;
}

/** The job with its added tools after the body's own, as objects. */
export function withToolsParsed(job: JobData): JobData {
  if (job.tools === undefined) return job;
  const own = Array.isArray(job.body.tools) ? job.body.tools : [];
  return { ...job, body: { ...job.body, tools: [...own, ...parsedTools(job.tools)] } };
}

/**
 * `body` as JSON with the added tools after its own. `body` is the adapter's copy: its `tools` is taken off it. A
 * body whose `tools` the adapter dropped (a provider that takes none) gets none added either.
 */
export function jsonWithTools(body: Record<string, unknown>, tools: string | undefined): string {
  const own = body.tools;
  if (tools === undefined || !Array.isArray(own)) return JSON.stringify(body);
  delete body.tools;
  const text = JSON.stringify(body);
  const list = own.length === 0 ? tools : `${JSON.stringify(own).slice(0, -1)},${tools.slice(1)}`;
  return `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"tools":${list}}`;
}
