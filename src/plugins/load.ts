// Turns `plugins[]` from the config into plugin instances: built-ins by name, a user's own module by path.
// A `.ts` module is loaded through tsx, so a plugin needs no build step (Node 20 cannot strip types itself).

import { pathToFileURL } from 'node:url';
import type { PluginConfig } from '../config/types.js';
import { createMetricsPlugin } from './builtin/metrics.js';
import type { Plugin, PluginApi, PluginFactory } from './contract.js';

export const BUILTIN_PLUGINS: Readonly<Record<string, PluginFactory>> = Object.freeze({
  metrics: createMetricsPlugin,
});

export class PluginLoadError extends Error {}

async function importModule(path: string): Promise<Record<string, unknown>> {
  if (/\.m?ts$/.test(path)) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

function isPlugin(value: unknown): value is Plugin {
  return typeof value === 'object' && value !== null && typeof (value as Plugin).name === 'string';
}

async function loadOne(entry: PluginConfig, api: PluginApi): Promise<Plugin> {
  if (entry.path === null) {
    const factory = BUILTIN_PLUGINS[entry.name];
    if (!factory) {
      throw new PluginLoadError(`unknown built-in plugin '${entry.name}' (built-ins: ${Object.keys(BUILTIN_PLUGINS).join(', ')})`);
    }
    return factory(entry.config, api);
  }
  let module: Record<string, unknown>;
  try {
    module = await importModule(entry.path);
  } catch (error) {
    throw new PluginLoadError(`cannot load plugin '${entry.name}' from ${entry.path}: ${(error as Error).message}`);
  }
  // tsx wraps a CommonJS-style default once more; accept either shape.
  let exported = module.default ?? module.plugin;
  if (exported && typeof exported === 'object' && 'default' in exported && !isPlugin(exported)) {
    exported = (exported as { default: unknown }).default;
  }
  const plugin = typeof exported === 'function' ? await (exported as PluginFactory)(entry.config, api) : exported;
  if (!isPlugin(plugin)) {
    throw new PluginLoadError(`plugin module ${entry.path} must export a plugin object with a 'name', or a factory returning one`);
  }
  return plugin;
}

export async function loadPlugins(entries: readonly PluginConfig[], api: PluginApi): Promise<Plugin[]> {
  const plugins: Plugin[] = [];
  for (const entry of entries) if (entry.enabled) plugins.push(await loadOne(entry, api));
  return plugins;
}
