import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROVIDER_FACTS } from '../../../src/contract/providers.js';

describe('docs/providers.md providers table', () => {
  it('lists every provider with the capabilities the gateway enforces', () => {
    const readme = readFileSync(new URL('../../../docs/providers.md', import.meta.url), 'utf8');
    const rows = new Map<string, string[]>();
    for (const line of readme.split('\n')) {
      const match = /^\| `([a-z]+)` \| (yes|no) \| (yes|no) \| (yes|no) \| (yes|no) \| (yes|no) \|/.exec(line);
      if (match) rows.set(match[1], match.slice(2));
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(PROVIDER_FACTS).sort());
    for (const [id, facts] of Object.entries(PROVIDER_FACTS)) {
      const { chat, stream, tools, vision, embeddings } = facts.capabilities;
      expect(rows.get(id), id).toEqual([chat, stream, tools, vision, embeddings].map((on) => (on ? 'yes' : 'no')));
    }
  });
});
