import { describe, expect, it } from 'vitest';
import { LabelTable, OTHER } from '../../../src/observability/label-table.js';
import { DYNAMIC_MODEL_SLOTS, modelLabelTable } from '../../../src/observability/model-labels.js';

describe('label table', () => {
  it('keeps the known values first, then the first values seen, then folds the rest into other', () => {
    const table = new LabelTable(['a', 'b', 'a'], 2);
    expect(table.size).toBe(5);
    expect([table.indexOf('a'), table.indexOf('b')]).toEqual([0, 1]);
    expect(table.indexOf('x')).toBe(2);
    expect(table.indexOf('y')).toBe(3);
    expect(table.indexOf('z')).toBe(table.otherIndex);
    expect(table.indexOf('x')).toBe(2);
    expect(table.values).toEqual(['a', 'b', 'x', 'y', OTHER]);
  });

  it('never grows, whatever a client sends', () => {
    const table = new LabelTable([], 3);
    for (let i = 0; i < 1000; i++) table.indexOf(`model-${i}`);
    expect(table.values).toHaveLength(4);
    expect(table.indexOf('other')).toBe(table.otherIndex);
  });

  it('gives the configured models and alias targets their slots before any request', () => {
    const table = modelLabelTable({
      providers: [{ keys: [{ models: ['gpt-4o', 'o3'] }, { models: null }] }] as never,
      modelAliases: { fast: 'openai/gpt-4o-mini', smart: 'anthropic/claude-sonnet-4' },
    });
    expect(table.values.slice(0, 5)).toEqual(['', 'gpt-4o', 'o3', 'gpt-4o-mini', 'claude-sonnet-4']);
    expect(table.size).toBe(5 + DYNAMIC_MODEL_SLOTS + 1);
  });
});
