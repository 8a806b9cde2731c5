/**
 * A progress bar on stderr: one line per finished measurement (so logs keep the history), and on a terminal a live
 * line redrawn every second in between, so a long phase (Bifrost's 10 s latency, a drain) is visibly alive.
 */
const WIDTH = 24;

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private current = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly total: number) {
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 1000);
      this.timer.unref();
    }
  }

  private bar(): string {
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(frac * WIDTH);
    const elapsed = (Date.now() - this.started) / 1000;
    const left = this.done > 0 ? (elapsed / this.done) * (this.total - this.done) : null;
    return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${this.done}/${this.total} ${clock(elapsed)} elapsed${left === null ? '' : `, ~${clock(left)} left`}`;
  }

  private draw(): void {
    process.stderr.write(`\r\x1b[K${this.bar()} ${this.current}`);
  }

  /** Names the measurement that runs now. */
  begin(label: string): void {
    this.current = label;
    if (this.tty) this.draw();
  }

  /** A line above the bar. */
  log(line: string): void {
    process.stderr.write(this.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
    if (this.tty) this.draw();
  }

  /** One measurement finished; `line` is its result. */
  step(line: string): void {
    this.done++;
    const text = `${this.bar()}  ${line}`;
    process.stderr.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }

  end(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}
