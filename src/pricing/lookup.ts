// Finding a model's row in the price table from the name a request used. Providers name one model many ways: dated
// snapshots (`gpt-4o-2024-08-06`, `claude-3-5-haiku-20241022`), version tags (`gemini-2.0-flash-001`,
// `anthropic.claude-3-haiku-20240307-v1:0`), regional inference profiles (`us.anthropic.…`), `-latest` aliases,
// Vertex's `@` versions and routers' `maker/model` ids. A name is tried as it is first (a dated snapshot with its own
// price, like `gpt-4o-2024-05-13`, wins), then with each of those decorations taken off in turn. Nothing is matched by
// a bare prefix: `gpt-4o-audio-preview` is not `gpt-4o`, and a wrong price is worse than none.

import { PROVIDER_PRICING, type ModelPrice, type ProviderPricing } from './price-table.js';

/** Each step takes one decoration off the end of a name; the steps run in this order, each on the last result. */
const STEPS: readonly ((name: string) => string)[] = [
  (name) => name.replace(/@.*$/, ''),
  (name) => name.replace(/:\d+$/, ''),
  (name) => name.replace(/-v\d+$/, ''),
  (name) => name.replace(/-\d{4}-\d{2}-\d{2}$/, ''),
  (name) => name.replace(/-\d{8}$/, ''),
  (name) => name.replace(/-latest$/, ''),
  (name) => name.replace(/-\d{3,4}$/, ''),
  // Anthropic's `claude-sonnet-4-0` alias and OpenRouter's dotted `claude-3.5-sonnet`.
  (name) => name.replace(/^(claude-.*\d)-0$/, '$1'),
  (name) => (name.startsWith('claude-') ? name.replace(/(\d)\.(\d)/g, '$1-$2') : name),
];

/** The names to try for `model`, most specific first, lower case. */
export function candidateNames(model: string): string[] {
  let name = model.toLowerCase();
  const names = [name];
  for (const step of STEPS) {
    const next = step(name);
    if (next !== name && next !== '') names.push(name = next);
  }
  return names;
}

type Index = ReadonlyMap<string, ModelPrice>;

const indexes = new WeakMap<object, Index>();
/** The table with lower-case keys, built once per table. */
function indexOf(table: Readonly<Record<string, ModelPrice>>): Index {
  let index = indexes.get(table);
  if (!index) {
    index = new Map(Object.entries(table).map(([name, price]) => [name.toLowerCase(), price]));
    indexes.set(table, index);
  }
  return index;
}

function findIn(tables: readonly Readonly<Record<string, ModelPrice>>[], model: string): ModelPrice | null {
  for (const name of candidateNames(model)) {
    for (const table of tables) {
      const price = indexOf(table).get(name);
      if (price) return price;
    }
  }
  return null;
}

/** Every model of a self-hosted server: nothing per token or per unit. */
export const FREE: ModelPrice = Object.freeze({ in: 0, out: 0, cachedIn: 0, cacheWrite: 0, perCharacter: 0, perAudioSecond: 0,
  perImage: Object.freeze({ '*': Object.freeze({ '*': 0 }) }) });

function stripPrefix(name: string, prefixes: readonly string[] | undefined): string {
  if (!prefixes) return name;
  const lower = name.toLowerCase();
  for (const prefix of prefixes) if (lower.startsWith(prefix)) return name.slice(prefix.length);
  return name;
}

/** The built-in price of `model` on the built-in provider `adapter`; null when the table has none. */
export function builtInPrice(adapter: string, model: string): ModelPrice | null {
  const pricing: ProviderPricing | undefined = PROVIDER_PRICING[adapter];
  if (!pricing) return null;
  if (pricing.free) return FREE;
  const name = stripPrefix(stripPrefix(model, pricing.stripPrefixes), pricing.regionPrefixes);
  const own = pricing.tables ? findIn(pricing.tables, name) : null;
  if (own) return own;
  const lower = name.toLowerCase();
  for (const [prefix, table] of Object.entries(pricing.vendors ?? {})) {
    if (lower.startsWith(prefix)) return findIn([table], name.slice(prefix.length));
  }
  return null;
}
