/** Minimal `--name value` / `--flag` parser shared by the bench processes (no dependency for this). */
export type Flags = ReadonlyMap<string, string | true>;

export function parseFlags(argv: readonly string[]): Flags {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument: ${arg}`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      flags.set(arg.slice(2), argv[++i]);
    } else {
      flags.set(arg.slice(2), true);
    }
  }
  return flags;
}

export function str(flags: Flags, name: string, fallback: string): string {
  const v = flags.get(name);
  if (v === true) throw new Error(`--${name} needs a value`);
  return v ?? fallback;
}

export function num(flags: Flags, name: string, fallback: number): number {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  const n = v === true ? NaN : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${String(v)}`);
  return n;
}

export function bool(flags: Flags, name: string): boolean {
  const v = flags.get(name);
  if (v === undefined || v === 'false') return false;
  if (v === true || v === 'true') return true;
  throw new Error(`--${name} takes no value, got ${v}`);
}
