import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { jsonWithTools, withToolsParsed } from '../../../../workers/providers/added-tools.js';

const TOOLS = '[{"type":"function","function":{"name":"m_x","parameters":{"type":"object"}}}]';

describe('jsonWithTools', () => {
  it("appends the added tools' text after the body's own tools", () => {
    const text = jsonWithTools({ model: 'm', tools: [{ type: 'function', function: { name: 'own' } }] }, TOOLS);
    expect(JSON.parse(text)).toEqual({ model: 'm', tools: [{ type: 'function', function: { name: 'own' } }, ...JSON.parse(TOOLS)] });
    expect(JSON.parse(jsonWithTools({ model: 'm', tools: [] }, TOOLS))).toEqual({ model: 'm', tools: JSON.parse(TOOLS) });
    expect(JSON.parse(jsonWithTools({ tools: [] }, TOOLS))).toEqual({ tools: JSON.parse(TOOLS) });
  });

  it('adds nothing when the adapter dropped `tools`, or when there is nothing to add', () => {
    expect(jsonWithTools({ model: 'm' }, TOOLS)).toBe('{"model":"m"}');
    expect(jsonWithTools({ model: 'm', tools: [] }, undefined)).toBe('{"model":"m","tools":[]}');
  });
});

describe('withToolsParsed', () => {
  const job = (body: Record<string, unknown>, tools?: string): JobData => ({ kind: 'chat', requestId: 'r', model: 'm', keyIndex: 0,
    stream: false, includeUsage: false, modelLabel: 0, body, ...(tools === undefined ? {} : { tools }) });

  it("puts the tools after the body's own, parsed once and frozen, and leaves the job it got alone", () => {
    const original = job({ messages: [], tools: [{ name: 'own' }] }, TOOLS);
    const first = withToolsParsed(original);
    expect(first.body.tools).toEqual([{ name: 'own' }, ...JSON.parse(TOOLS)]);
    expect(original.body.tools).toEqual([{ name: 'own' }]);
    const second = withToolsParsed(job({ messages: [] }, `${TOOLS}`.slice(0)));
    expect((second.body.tools as unknown[])[0]).toBe((first.body.tools as unknown[])[1]);
    expect(Object.isFrozen((second.body.tools as { function: object }[])[0].function)).toBe(true);
  });

  it('returns a job without added tools as it is', () => {
    const plain = job({ messages: [] });
    expect(withToolsParsed(plain)).toBe(plain);
  });
});
