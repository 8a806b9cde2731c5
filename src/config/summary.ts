// The start-up summary: a few lines an operator reads at a glance (what was loaded, what runs, what is not
// served), where the whole config dump is one long line for `debug`. Secrets never appear: a base URL is shown
// with its credentials masked, and keys only by count.

import { formatAddress } from '../http/port-probe.js';
import { describeAdmin } from './admin.js';
import { maskUrlCredentials } from './redact.js';
import type { GatewayConfig, ProviderConfig } from './types.js';

export interface SummaryLine {
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function describeProvider(p: ProviderConfig): string {
  const enabled = p.keys.filter((k) => k.enabled).length;
  const parts = [
    p.keyless && p.keys.length === 0 ? 'keyless' : `${plural(enabled, 'key')}${enabled < p.keys.length ? ` of ${p.keys.length}` : ''}`,
    plural(p.concurrency.threads, 'thread'),
  ];
  if (p.network.baseUrl) parts.push(maskUrlCredentials(p.network.baseUrl));
  return `${p.name}${p.adapter === p.name ? '' : ` (${p.adapter})`}: ${parts.join(', ')}`;
}

export function configSummary(cfg: GatewayConfig): SummaryLine[] {
  const lines: SummaryLine[] = [{ msg: `config: ${cfg.source}`, fields: { source: cfg.source } }];
  lines.push({
    msg: cfg.providers.length ? `providers: ${cfg.providers.map(describeProvider).join('; ')}` : 'providers: none',
    fields: { providers: cfg.providers.map((p) => p.name) },
  });
  if (cfg.unsupportedProviders.length > 0) {
    lines.push({ msg: `not served (no adapter yet): ${cfg.unsupportedProviders.join(', ')}`,
      fields: { unsupportedProviders: cfg.unsupportedProviders } });
  }
  const aliases = Object.entries(cfg.modelAliases);
  if (aliases.length > 0) {
    lines.push({ msg: `model aliases: ${aliases.map(([alias, target]) => `${alias} → ${target}`).join(', ')}`, fields: {} });
  }
  const plugins = cfg.plugins.map((p) => `${p.name}${p.path ? ` (${p.path})` : ''}${p.enabled ? '' : ' (disabled)'}`);
  lines.push({ msg: `plugins: ${plugins.length ? plugins.join(', ') : 'none'}`, fields: {} });
  const tracing = cfg.tracing;
  if (tracing) {
    // The endpoint without a password it may carry in its URL (the start-up log is not a place for secrets).
    lines.push({ msg: `tracing: OTLP/${tracing.protocol === 'grpc' ? 'gRPC' : 'HTTP'} to ${maskUrlCredentials(tracing.endpoint)}, `
      + `sample rate ${tracing.sampleRate}${tracing.propagateTraceparent ? ', traceparent sent upstream' : ''}`
      + `${tracing.captureContent ? ', content recorded' : ''}`, fields: {} });
  }
  lines.push({
    msg: `server: ${formatAddress(cfg.server.host, cfg.server.port)}, log level ${cfg.server.logLevel}, `
      + `request body up to ${cfg.client.maxRequestBodySizeMb} MB${cfg.client.dropExcessRequests ? ', drops excess requests' : ''}`
      + (cfg.processes.supervised ? `, ${cfg.processes.count} process${cfg.processes.count === 1 ? '' : 'es'}${cfg.processes.setting === 'auto' ? ' (auto)' : ''}` : ''),
    fields: {},
  });
  lines.push({ msg: describeAdmin(cfg.admin), fields: {} });
  return lines;
}
