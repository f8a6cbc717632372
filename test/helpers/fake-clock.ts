import type { WatchdogClock } from '../../src/main/supervision/engine-watchdog.ts'

/** A watchdog clock that moves only when the test advances it, running every tick that falls due, in order. */
export class FakeClock implements WatchdogClock {
  time = 0
  private ticks: { milliseconds: number; tick: () => void; next: number }[] = []
  now(): number {
    return this.time
  }
  every(milliseconds: number, tick: () => void): () => void {
    const entry = { milliseconds, tick, next: this.time + milliseconds }
    this.ticks.push(entry)
    return () => {
      this.ticks = this.ticks.filter((candidate) => candidate !== entry)
    }
  }
  /** Move time forward by `milliseconds`, running every tick that falls due, in order. */
  advance(milliseconds: number): void {
    const end = this.time + milliseconds
    for (;;) {
      const due = this.ticks.filter((entry) => entry.next <= end).sort((a, b) => a.next - b.next)[0]
      if (due === undefined) break
      this.time = due.next
      due.next += due.milliseconds
      due.tick()
    }
    this.time = end
  }
}
