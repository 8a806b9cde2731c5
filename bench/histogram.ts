/**
 * A small log-bucketed latency histogram in microseconds (HDR-style: exact below 256 µs, then 128 linear
 * sub-buckets per power of two, so every recorded value is within 0.8 % of its bucket's midpoint).
 * Range 1 µs .. ~2^34 µs (4.7 h); larger values land in the last bucket. No dependency.
 */
const SUB = 128;
const EXACT = 2 * SUB; // values 0..255 have their own bucket
const MAX_EXP = 34;
const SIZE = EXACT + (MAX_EXP - 8 + 1) * SUB;

function indexOf(us: number): number {
  const v = Math.max(0, Math.round(us));
  if (v < EXACT) return v;
  const e = Math.min(MAX_EXP, Math.floor(Math.log2(v)));
  if (e >= MAX_EXP + 1) return SIZE - 1;
  const sub = Math.min(2 * SUB - 1, Math.floor(v / 2 ** (e - 7)));
  return Math.min(SIZE - 1, EXACT + (e - 8) * SUB + (sub - SUB));
}

/** [lowest, highest] µs value of a bucket. */
function bounds(index: number): [number, number] {
  if (index < EXACT) return [index, index];
  const e = 8 + Math.floor((index - EXACT) / SUB);
  const sub = SUB + ((index - EXACT) % SUB);
  const width = 2 ** (e - 7);
  return [sub * width, (sub + 1) * width - 1];
}

export interface HistogramJson {
  count: number;
  minUs: number | null;
  maxUs: number | null;
  meanUs: number | null;
  /** Sparse buckets: [bucket midpoint µs, count]. */
  buckets: [number, number][];
}

export const PERCENTILES = [50, 75, 90, 95, 99, 99.9, 99.99] as const;

export class Histogram {
  private counts = new Float64Array(SIZE);
  count = 0;
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;

  record(us: number): void {
    if (!Number.isFinite(us)) return;
    this.counts[indexOf(us)]++;
    this.count++;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  /** The value at percentile p (0..100): the midpoint of the bucket holding it, clamped to the observed range. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    if (p >= 100) return this.max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const [lo, hi] = bounds(i);
        return Math.min(this.max, Math.max(this.min, (lo + hi) / 2));
      }
    }
    return this.max;
  }

  mean(): number | null {
    return this.count ? this.sum / this.count : null;
  }

  toJSON(): HistogramJson {
    const buckets: [number, number][] = [];
    for (let i = 0; i < SIZE; i++) {
      if (this.counts[i] > 0) {
        const [lo, hi] = bounds(i);
        buckets.push([(lo + hi) / 2, this.counts[i]]);
      }
    }
    return {
      count: this.count,
      minUs: this.count ? this.min : null,
      maxUs: this.count ? this.max : null,
      meanUs: this.mean(),
      buckets,
    };
  }

  static fromJSON(json: HistogramJson): Histogram {
    const h = new Histogram();
    for (const [mid, n] of json.buckets) {
      h.counts[indexOf(mid)] += n;
      h.count += n;
      h.sum += mid * n;
    }
    h.min = json.minUs ?? Infinity;
    h.max = json.maxUs ?? -Infinity;
    return h;
  }
}

/** Percentiles in µs from a serialized histogram. */
export function percentilesOf(json: HistogramJson | undefined | null): Record<string, number | null> {
  const h = json ? Histogram.fromJSON(json) : new Histogram();
  return Object.fromEntries(PERCENTILES.map((p) => [`p${p}`, h.percentile(p)]));
}
