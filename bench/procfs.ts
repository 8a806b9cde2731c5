/** Per-thread CPU time and machine counters from /proc (Linux only). */
import { readFileSync, readdirSync } from 'node:fs';

export type ThreadRole = 'main' | 'workers' | 'other';

/** tid → nanoseconds on CPU (first field of /proc/<pid>/task/<tid>/schedstat). */
export type CpuSnapshot = Map<number, number>;

function tryRead(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // the thread (or process) exited between readdir and read
  }
}

function tids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

export function cpuSnapshot(pid: number): CpuSnapshot {
  const snap: CpuSnapshot = new Map();
  for (const tid of tids(pid)) {
    const text = tryRead(`/proc/${pid}/task/${tid}/schedstat`);
    if (text) snap.set(tid, Number(text.split(' ')[0]));
  }
  return snap;
}

/** tid → voluntary context switches so far (/proc/<pid>/task/<tid>/status): how often each thread slept and was woken. */
export function sleepSnapshot(pid: number): Map<number, number> {
  const snap = new Map<number, number>();
  for (const tid of tids(pid)) {
    const text = tryRead(`/proc/${pid}/task/${tid}/status`);
    if (text) snap.set(tid, Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0));
  }
  return snap;
}

interface Mapping {
  start: bigint;
  end: bigint;
}

function mappings(pid: number): Mapping[] {
  const text = tryRead(`/proc/${pid}/maps`) ?? '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [from, to] = line.slice(0, line.indexOf(' ')).split('-');
      return { start: BigInt(`0x${from}`), end: BigInt(`0x${to}`) };
    });
}

function stackRlimit(pid: number): number {
  const line = (tryRead(`/proc/${pid}/limits`) ?? '').split('\n').find((l) => l.startsWith('Max stack size'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft && soft !== 'unlimited' ? Number(soft) : 8 << 20;
}

/**
 * Which threads are Node worker_threads. On Node 20 every thread is named "node" in /proc/.../comm, so the name
 * cannot tell. The stack can: a Worker's thread gets Node's own stack size (4 MiB unless resourceLimits.stackSizeMb
 * changes it), while libuv's pool and V8's platform threads get RLIMIT_STACK (8 MiB), and the inspector's signal
 * thread 32 KiB. A blocked thread's stack pointer is in /proc/.../syscall; we look up the mapping that holds it.
 * A thread running at that instant is left unclassified and retried at the next call.
 */
export function classifyThreads(pid: number, known: Map<number, ThreadRole>): void {
  const pending = tids(pid).filter((tid) => !known.has(tid));
  if (pending.length === 0) return;
  const maps = mappings(pid);
  const platformStack = stackRlimit(pid);
  for (const tid of pending) {
    if (tid === pid) {
      known.set(tid, 'main');
      continue;
    }
    const fields = (tryRead(`/proc/${pid}/task/${tid}/syscall`) ?? '').trim().split(' ');
    if (fields.length < 9) continue; // "running": try again later
    const sp = BigInt(fields[7]);
    const stack = maps.find((m) => m.start <= sp && sp < m.end);
    if (!stack) continue;
    const size = Number(stack.end - stack.start);
    known.set(tid, size >= 1 << 20 && Math.abs(size - platformStack) > 64 << 10 ? 'workers' : 'other');
  }
}

export interface CpuSplit {
  /** CPU nanoseconds per role, summed over threads; unclassified threads count as "other". */
  ns: Record<ThreadRole, number>;
  threads: Record<ThreadRole, number>;
}

/** Threads that exited during the window lose their last slice: /proc no longer has them. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot, roles: Map<number, ThreadRole>): CpuSplit {
  const split: CpuSplit = { ns: { main: 0, workers: 0, other: 0 }, threads: { main: 0, workers: 0, other: 0 } };
  for (const [tid, ns] of after) {
    const role = roles.get(tid) ?? 'other';
    split.ns[role] += ns - (before.get(tid) ?? 0);
    split.threads[role] += 1;
  }
  return split;
}

/** Aggregate CPU ticks from the first line of /proc/stat, to report steal time (a noisy-neighbour flag). */
export interface CpuTicks {
  steal: number;
  total: number;
}

export function cpuTicks(): CpuTicks {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  // user nice system idle iowait irq softirq steal (guest and guest_nice are already inside user and nice)
  const values = first.trim().split(/\s+/).slice(1, 9).map(Number);
  return { steal: values[7] ?? 0, total: values.reduce((a, b) => a + b, 0) };
}

export function stealPercent(before: CpuTicks, after: CpuTicks): number {
  const total = after.total - before.total;
  return total > 0 ? (100 * (after.steal - before.steal)) / total : 0;
}

/** Peak resident set size (VmHWM) in MiB, or null once the process is gone. */
export function peakRssMiB(pid: number): number | null {
  const line = (tryRead(`/proc/${pid}/status`) ?? '').split('\n').find((l) => l.startsWith('VmHWM:'));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : null;
}

/** pid → CPU ticks (utime + stime) of every user-space process except `exclude`; kernel threads serve our traffic too. */
export type ProcessTicks = Map<number, number>;

export function otherProcessTicks(exclude: ReadonlySet<number>): ProcessTicks {
  const ticks: ProcessTicks = new Map();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || exclude.has(pid)) continue;
    const stat = tryRead(`/proc/${pid}/stat`);
    if (!stat) continue;
    // Fields after the parenthesised command name: state ppid ... utime(14) stime(15), counted from 1 overall.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(f[1]);
    if (pid === 2 || ppid === 2) continue;
    ticks.set(pid, Number(f[11]) + Number(f[12]));
  }
  return ticks;
}

/**
 * CPU seconds other processes used between two snapshots: a shared machine makes every figure noisy, and this says
 * by how much. Processes that started and ended between the snapshots are missed.
 */
export function otherProcessCpuSeconds(before: ProcessTicks, after: ProcessTicks, ticksPerSecond = 100): number {
  let sum = 0;
  for (const [pid, t] of after) sum += t - (before.get(pid) ?? 0);
  return sum / ticksPerSecond;
}

/** The open-files limit (RLIMIT_NOFILE) of a process, from /proc/<pid>/limits; null when unreadable. */
export function openFilesLimit(pid: number | 'self'): { soft: number; hard: number } | null {
  const line = (tryRead(`/proc/${pid}/limits`) ?? '').split('\n').find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line?.split(/\s{2,}/).slice(1, 3) ?? []).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  return soft !== undefined && hard !== undefined && !Number.isNaN(soft) && !Number.isNaN(hard) ? { soft, hard } : null;
}

/** How many local ports the kernel hands out for outgoing connections: the most sockets open to one host:port. */
export function ephemeralPorts(): number {
  const [lo, hi] = (tryRead('/proc/sys/net/ipv4/ip_local_port_range') ?? '32768 60999').trim().split(/\s+/).map(Number);
  return hi - lo + 1;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces), so f[1] = ppid, f[11] = utime. */
function statFields(pid: number): string[] | null {
  const stat = tryRead(`/proc/${pid}/stat`);
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : null;
}

/** Every process below `root` (children, grandchildren …), found by their parent pid. */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const f = statFields(pid);
    if (f) parentOf.set(pid, Number(f[1]));
  }
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length) {
    const next = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([pid]) => pid);
    found.push(...next);
    frontier = next;
  }
  return found.sort((a, b) => a - b);
}

/**
 * A process's own CPU so far, every thread included (utime + stime of /proc/<pid>/stat, in clock ticks, 1/100 s on
 * Linux), or null once it is gone. Its exited threads stay in it; its exited children do not.
 */
export function processTicks(pid: number): number | null {
  const f = statFields(pid);
  return f ? Number(f[11]) + Number(f[12]) : null;
}

/**
 * Bytes a process moved through read()/write() so far (rchar + wchar of /proc/<pid>/io). A gateway's upstream
 * sockets go through them (libuv reads and writes undici's sockets with read/writev): the same bytes for every
 * request of one load, so the processes' shares of the bytes are their shares of the requests. null when unreadable.
 */
export function ioBytes(pid: number): number | null {
  const text = tryRead(`/proc/${pid}/io`);
  if (!text) return null;
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const sum = field('rchar') + field('wchar');
  return Number.isFinite(sum) ? sum : null;
}

/** Busy ticks of the whole machine (/proc/stat: everything but idle and iowait), every process and the kernel's own. */
export function machineBusyTicks(): number {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = values;
  return user + nice + system + irq + softirq + (steal ?? 0);
}
