// Every adapter the workers can run, by id. src/contract/providers.ts lists the same ids for the front thread;
// a unit test keeps the two in step.

import { mock } from './mock.js';
import { openai } from './openai.js';
import type { ProviderAdapter } from './types.js';

export const ADAPTERS: Readonly<Record<string, ProviderAdapter>> = Object.freeze({ openai, mock });

export function adapterFor(id: string): ProviderAdapter {
  const adapter = ADAPTERS[id];
  if (!adapter) throw new Error(`no adapter '${id}' in this build`);
  return adapter;
}
