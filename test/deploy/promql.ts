// Just enough PromQL reading to say which metric names and label names a query uses: selectors with their
// matchers, and the labels of `by (...)`, `without (...)`, `on (...)` and the like. Grafana's variables are
// replaced by values of the right shape first.

const FUNCTIONS_AND_KEYWORDS = new Set(['sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile',
  'group', 'count_values', 'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile', 'abs', 'ceil', 'floor',
  'round', 'clamp_min', 'clamp_max', 'clamp', 'label_replace', 'label_join', 'vector', 'scalar', 'time', 'timestamp',
  'absent', 'sort', 'sort_desc', 'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'count_over_time',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan',
  'label_values']);

export interface QueryNames {
  /** Each selector's metric and the label names its matchers use. */
  readonly selectors: { metric: string; labels: string[] }[];
  /** Labels named in grouping and matching clauses, and `label_values`' label. */
  readonly groupingLabels: string[];
}

export function queryNames(query: string): QueryNames {
  let expr = query.replace(/\$__(rate_interval|interval|range)/g, '5m').replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\[[^\]]*\]/g, '');
  const groupingLabels: string[] = [];
  const labelValues = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(expr.trim());
  if (labelValues) {
    expr = labelValues[1];
    groupingLabels.push(labelValues[2]);
  }
  expr = expr.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_whole, _clause, labels: string) => {
    groupingLabels.push(...labels.split(',').map((label) => label.trim()).filter((label) => label !== ''));
    return ' ';
  });
  const selectors: { metric: string; labels: string[] }[] = [];
  expr = expr.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g, (_whole, metric: string | undefined, matchers: string) => {
    const labels = [...matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((match) => match[1]);
    if (metric === undefined) throw new Error(`a selector without a metric name in ${query}`);
    selectors.push({ metric, labels });
    return ' ';
  });
  for (const match of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = match[1];
    if (match[2] || FUNCTIONS_AND_KEYWORDS.has(name.toLowerCase()) || /^\d/.test(name)) continue;
    selectors.push({ metric: name, labels: [] });
  }
  return { selectors, groupingLabels };
}

/** Sample names of an exposition and the label names seen on each. */
export function exportedLabels(exposition: string): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!match) continue;
    const labels = names.get(match[1]) ?? new Set<string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(pair[1]);
    names.set(match[1], labels);
  }
  return names;
}

/** What a query names that the exposition does not have, as sentences; empty when every name exists. */
export function unknownNames(query: string, exported: Map<string, Set<string>>): string[] {
  const { selectors, groupingLabels } = queryNames(query);
  const problems: string[] = [];
  if (selectors.length === 0) problems.push(`no metric in ${query}`);
  for (const { metric, labels } of selectors) {
    const have = exported.get(metric);
    if (!have) {
      problems.push(`${metric} is not exported`);
      continue;
    }
    for (const label of labels) if (!have.has(label)) problems.push(`${metric} has no label ${label}`);
  }
  for (const label of groupingLabels) {
    if (!selectors.some(({ metric }) => exported.get(metric)?.has(label))) problems.push(`no metric of the query has label ${label}: ${query}`);
  }
  return problems;
}
