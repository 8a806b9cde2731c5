import type { z } from 'zod';

export interface ConfigProblem {
  /** Dotted path into the config file, e.g. `providers.openai.keys[0].value`; empty for file-level problems. */
  readonly path: string;
  readonly message: string;
}

/** Every problem found in one config, reported together so a user fixes them in one pass. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], source?: string) {
    const lines = problems.map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.message}`);
    const where = source ? ` (${source})` : '';
    super(`invalid config${where}:\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Optimal string alignment distance, so a swapped pair of letters costs one edit, not two. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | null {
  const lower = word.toLowerCase();
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(lower, c.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  return bestDistance <= limit ? best : null;
}

export function hint(word: string, candidates: Iterable<string>): string {
  const match = didYouMean(word, candidates);
  return match ? ` — did you mean '${match}'?` : '';
}

type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;

/** Turns zod issues into problems; `root` is walked to find the keys each object accepts. */
export function issuesToProblems(issues: readonly Issue[], root: Schema, base: readonly PropertyKey[] = []): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const accepted = acceptedKeys(root, path);
      for (const key of issue.keys) {
        problems.push({ path: formatPath([...path, key]), message: `unknown key '${key}'${hint(key, accepted)}` });
      }
    } else if (issue.code === 'invalid_union') {
      const branch = closestBranch(issue.errors);
      if (branch) problems.push(...issuesToProblems(branch, root, path));
      else problems.push({ path: formatPath(path), message: unionMessage(issue) });
    } else {
      problems.push({ path: formatPath(path), message: describeIssue(issue) });
    }
  }
  return problems;
}

// A union branch that failed on the value's type says nothing useful; one that got past the type check
// (say, the object form of a plugin entry) holds the real mistake.
function closestBranch(branches: readonly (readonly Issue[])[]): readonly Issue[] | null {
  const typed = branches.filter((b) => !b.some((i) => i.code === 'invalid_type' && i.path.length === 0));
  return typed[0] ?? null;
}

function unionMessage(issue: Extract<Issue, { code: 'invalid_union' }>): string {
  const expected = issue.errors.flatMap((b) => b.filter((i) => i.code === 'invalid_type' && i.path.length === 0));
  const names = [...new Set(expected.map((i) => typeName((i as { expected: string }).expected)))];
  return names.length ? `expected ${names.join(' or ')}, got ${describeValue(issue.input)}` : issue.message;
}

function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `required (expected ${typeName(issue.expected)})`;
      return `expected ${typeName(issue.expected)}, got ${describeValue(issue.input)}`;
    case 'too_small':
      return rangeMessage(issue.origin, issue.inclusive ? '>=' : '>', issue.minimum);
    case 'too_big':
      return rangeMessage(issue.origin, issue.inclusive ? '<=' : '<', issue.maximum);
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return issue.message;
  }
}

function rangeMessage(origin: string, op: string, bound: number | bigint): string {
  if ((origin === 'string' || origin === 'array') && op === '>=' && bound === 1) return 'must not be empty';
  if (origin === 'string') return `length must be ${op} ${bound}`;
  if (origin === 'array') return `must have ${op} ${bound} items`;
  return `must be ${op} ${bound}`;
}

function typeName(expected: string): string {
  return expected === 'int' ? 'integer' : expected;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && !Number.isInteger(v)) return `number ${v}`;
  return typeof v;
}

interface Def {
  type: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  in?: Schema;
  out?: Schema;
  element?: Schema;
  valueType?: Schema;
  options?: readonly Schema[];
}

const defOf = (s: Schema): Def => s._zod.def as unknown as Def;

/** The schemas a value may match at this node, looking through optional/default/pipe wrappers and unions. */
function expand(s: Schema): Schema[] {
  const def = defOf(s);
  if (def.type === 'union') return (def.options ?? []).flatMap(expand);
  // A preprocess is a pipe whose output side holds the shape.
  if (def.type === 'pipe' && def.in && defOf(def.in).type === 'transform' && def.out) return expand(def.out);
  const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  return inner ? expand(inner) : [s];
}

function child(s: Schema, seg: PropertyKey): Schema[] {
  const def = defOf(s);
  if (def.type === 'object' && typeof seg === 'string' && def.shape && Object.hasOwn(def.shape, seg)) return [def.shape[seg]];
  if (def.type === 'record' && def.valueType) return [def.valueType];
  if (def.type === 'array' && def.element) return [def.element];
  return [];
}

/** The keys an object at `path` accepts, found by walking the schema itself so there is one source of truth. */
export function acceptedKeys(root: Schema, path: readonly PropertyKey[]): string[] {
  let nodes = expand(root);
  for (const seg of path) nodes = nodes.flatMap((n) => child(n, seg)).flatMap(expand);
  const keys = nodes.flatMap((n) => {
    const def = defOf(n);
    return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
  });
  return [...new Set(keys)];
}
