// The leaf-by-leaf comparison of the fidelity tests: which fields of what the client sent did not reach the upstream
// with the same value, and were not reported as dropped.

type Json = unknown;

const isObject = (value: Json): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Paths (`messages.0.content.3.title`) of the leaves of `sent` that `received` lacks or holds another value at.
 * A path is excused when a reported name is the path, its last member, or a prefix of it (`tools.0`).
 */
export function lostFields(sent: Json, received: Json, reported: readonly string[] = [], path = ''): string[] {
  const excused = (at: string) => reported.some((name) => at === name || at.endsWith(`.${name}`) || at.startsWith(`${name}.`));
  if (isObject(sent) || Array.isArray(sent)) {
    const entries = Array.isArray(sent) ? sent.map((value, i) => [String(i), value] as const) : Object.entries(sent);
    return entries.flatMap(([key, value]) => {
      const at = path ? `${path}.${key}` : key;
      const there = Array.isArray(received) ? received[Number(key)] : isObject(received) ? received[key] : undefined;
      if (there === undefined) return excused(at) ? [] : [at];
      return lostFields(value, there, reported, at);
    });
  }
  return sent === received || excused(path) ? [] : [path];
}
