// Owns background retries with exponential back-off: work that failed runs again later, never on a client's request.

export interface RetryOptions {
  /** Delay before the first retry; each further one doubles it, up to maxMs. */
  baseMs: number
  maxMs: number
  /** Told about each failure; `repeated` when it is the same failure (code or message) as the one before it. */
  onFailure: (err: unknown, failures: number, repeated: boolean) => void
  /** Told when the task succeeds after `failures` consecutive failures. */
  onRecovery?: (failures: number) => void
}

const failureKey = (err: unknown): string => (err as { code?: string }).code ?? String((err as Error | undefined)?.message ?? err)

/** A task that runs until it succeeds: after a failure it is run again after baseMs, 2·baseMs, … (at most maxMs). */
export class Retry {
  readonly #task: () => Promise<void>
  readonly #opts: RetryOptions
  #failures = 0
  #lastFailure: string | undefined
  #running = false
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  /** later() was called while a run was finishing: that run may have come too early for it, so run once more. */
  #again = false

  constructor (task: () => Promise<void>, opts: RetryOptions) {
    this.#task = task
    this.#opts = opts
  }

  /** Consecutive failures so far (0 once it succeeded). */
  get failures (): number { return this.#failures }

  /** Runs the task now, unless a run is under way or waiting for its next attempt. */
  start (): void {
    if (this.#running || this.#timer !== undefined || this.#stopped) return
    void this.#run()
  }

  /** Runs the task after the first back-off delay (it has just failed elsewhere), unless a run is pending already. */
  later (): void {
    if (this.#timer !== undefined || this.#stopped) return
    if (this.#running) { this.#again = true; return }
    this.#schedule(this.#opts.baseMs)
  }

  /** No further runs (the store is closing); a run under way finishes. */
  stop (): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule (ms: number): void {
    this.#timer = setTimeout(() => { this.#timer = undefined; void this.#run() }, ms)
    // A pending retry alone does not keep the process alive.
    this.#timer.unref()
  }

  async #run (): Promise<void> {
    this.#running = true
    try {
      await this.#task()
      const failed = this.#failures
      this.#failures = 0
      this.#lastFailure = undefined
      if (failed > 0) this.#opts.onRecovery?.(failed)
    } catch (err) {
      this.#failures++
      const key = failureKey(err)
      this.#opts.onFailure(err, this.#failures, key === this.#lastFailure)
      this.#lastFailure = key
      if (!this.#stopped) this.#schedule(Math.min(this.#opts.baseMs * 2 ** (this.#failures - 1), this.#opts.maxMs))
    } finally {
      this.#running = false
      if (this.#again && this.#timer === undefined && !this.#stopped) this.#schedule(this.#opts.baseMs)
      this.#again = false
    }
  }
}
