// The rules of Prometheus' text exposition format that dashboards and promtool rely on, checked without promtool:
// one HELP and one TYPE per family before its samples, counters ending in _total, histograms with cumulative
// buckets that end in le="+Inf" equal to _count.

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help: string | null;
  type: string | null;
  readonly samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The families of an exposition, samples attached to the family they belong to (a histogram's _bucket/_sum/_count). */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) families.set(name, found = { name, help: null, type: null, samples: [] });
    return found;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const target = family(meta[2]);
      if (meta[1] === 'HELP') target.help = meta[3];
      else target.type = meta[3];
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(LABEL)) labels[pair[1]] = pair[2];
    const base = [...families.keys()].reverse().find((name) => match[1] === name
      || (families.get(name)!.type === 'histogram' && ['_bucket', '_sum', '_count'].some((suffix) => match[1] === name + suffix)));
    if (!base) throw new Error(`a sample before its family's TYPE: ${line}`);
    families.get(base)!.samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return families;
}

/** Every broken rule, as sentences; empty when the exposition is clean. */
export function expositionProblems(text: string): string[] {
  const problems: string[] = [];
  const seenMeta = new Map<string, number>();
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
    if (meta) seenMeta.set(`${meta[1]} ${meta[2]}`, (seenMeta.get(`${meta[1]} ${meta[2]}`) ?? 0) + 1);
  }
  for (const [key, count] of seenMeta) if (count > 1) problems.push(`${key} appears ${count} times`);
  for (const family of parseExposition(text).values()) {
    if (!family.help) problems.push(`${family.name} has no HELP`);
    if (!family.type) problems.push(`${family.name} has no TYPE`);
    if (family.type === 'counter' && !family.name.endsWith('_total')) problems.push(`counter ${family.name} does not end in _total`);
    if (family.type !== 'counter' && family.name.endsWith('_total')) problems.push(`${family.type} ${family.name} ends in _total`);
    if (family.type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const sample of family.samples) {
      const { le, ...rest } = sample.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      if (!series.has(key)) series.set(key, []);
      if (le !== undefined || sample.name.endsWith('_count')) series.get(key)!.push(sample);
    }
    for (const [key, samples] of series) {
      const buckets = samples.filter((sample) => sample.name.endsWith('_bucket'));
      const count = samples.find((sample) => sample.name.endsWith('_count'));
      const bounds = buckets.map((sample) => sample.labels.le);
      if (bounds.at(-1) !== '+Inf') problems.push(`${family.name}${key}: buckets do not end with le="+Inf"`);
      for (let i = 1; i < buckets.length; i++) {
        if (buckets[i].value < buckets[i - 1].value) problems.push(`${family.name}${key}: bucket le=${bounds[i]} below the one before`);
        if (bounds[i] !== '+Inf' && Number(bounds[i]) <= Number(bounds[i - 1])) problems.push(`${family.name}${key}: le not increasing`);
      }
      if (count && buckets.at(-1)?.value !== count.value) problems.push(`${family.name}${key}: +Inf bucket differs from _count`);
    }
  }
  return problems;
}
