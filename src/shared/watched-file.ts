// Owns a hot-reloaded file (keyring.json, clients.json) or Redis document: re-read on change, in order, the last good value kept.
import { basename } from 'node:path'
import { fileVersion } from './atomic-file.js'
import type { Log } from './log.js'

/** Whether the file could be used at the last read; while it cannot, the last good value keeps serving. */
export interface FileHealth {
  /** Why the last read failed, and since when reads have been failing; undefined while reads succeed. */
  readonly failure: { readonly code: string, readonly message: string, readonly since: number } | undefined
  /** Failed reads since start: it grows at every poll while the file stays bad. */
  readonly failures: number
}

export interface WatchedFileOptions<T, V> {
  /** The file; its version (inode, size, mtime) says when to read it again. With `version`, only a name for messages. */
  path: string
  /**
   * What says when to read it again, instead of the file's (inode, size, mtime): a Redis document's revision.
   * With it, nothing is polled: the owner calls reload() when told of a change (pub/sub), and the timer only derives
   * a time-dependent view again.
   */
  version?: () => Promise<string | null>
  /** Reads and parses the file; throws on anything unusable, with a `code` naming the failure. */
  load: () => Promise<T>
  /** What readers use, derived once per change rather than per request. */
  view: (value: T) => V
  /** Whether a new view is a change listeners hear of (and reload() answers true); by default every read is. */
  changed?: (next: V, previous: V) => boolean
  /**
   * The view depends on the clock as well as on the file (the key ring unpublishes retired keys as time passes):
   * each poll that finds the file unchanged derives it again, and installs it when `changed` says so.
   */
  timeDependent?: boolean
  pollMs: number
  log: Log
  clock: () => number
  /** Names the file in log events (`<event>.reload_failed`, `<event>.reload_recovered`). */
  event: string
  /** Names what the file holds in log lines ("key ring"). */
  label: string
}

/**
 * A file that is read again when it changes (a poll, or reload() for SIGHUP and tests), so edits apply without a
 * restart. Reads never overlap, so an older file can never replace a newer one; a bad file keeps the last good value
 * and is read again at every poll (a chmod fixes a file without changing its version); the log gets one line per
 * distinct failure and one on recovery, not one per poll.
 */
export class WatchedFile<T, V> {
  #value: T
  #view: V
  #version: string | null
  #health: FileHealth = { failure: undefined, failures: 0 }
  #timer: NodeJS.Timeout | undefined
  /** The read every later read runs after. */
  #last: Promise<unknown> = Promise.resolve()
  /** A read that has not started yet: callers arriving now share it, since it will see what they changed. */
  #queued: { force: boolean, done: Promise<boolean> } | undefined
  readonly #listeners: Array<(view: V, previous: V) => void> = []
  readonly #opts: WatchedFileOptions<T, V>

  private constructor (opts: WatchedFileOptions<T, V>, value: T, version: string | null) {
    this.#opts = opts
    this.#value = value
    this.#view = opts.view(value)
    this.#version = version
  }

  /**
   * Reads the file with `first` (by default `load`: a start-up may also create the file) and starts polling it.
   * A failure here is thrown: there is no last good value to keep.
   */
  static async open<T, V> (opts: WatchedFileOptions<T, V>, first: () => Promise<T> = opts.load): Promise<WatchedFile<T, V>> {
    // The version is taken before the content: if the file changes in between, the first poll reads it again.
    const version = await (opts.version ?? (async () => await fileVersion(opts.path)))()
    const file = new WatchedFile(opts, await first(), version)
    file.#timer = setInterval(() => {
      if (opts.version === undefined) void file.reload(false)
      else if (opts.timeDependent === true) file.#install(file.#value, true)
    }, opts.pollMs)
    file.#timer.unref()
    return file
  }

  get view (): V { return this.#view }

  get health (): FileHealth { return this.#health }

  onChange (listener: (view: V, previous: V) => void): void { this.#listeners.push(listener) }

  /**
   * Reads the file again: always, or with `force` false only when its version changed (a poll). Resolves after a
   * read that started after this call, so a change made before calling is applied; true when the view changed.
   */
  async reload (force = true): Promise<boolean> {
    if (this.#queued !== undefined) {
      this.#queued.force ||= force
      return await this.#queued.done
    }
    const queued = { force, done: Promise.resolve(false) }
    queued.done = this.#last.then(async () => {
      this.#queued = undefined
      return await this.#read(queued.force)
    })
    this.#queued = queued
    this.#last = queued.done
    return await queued.done
  }

  stop (): void { clearInterval(this.#timer) }

  /**
   * Records a failure that no read saw (the channel that announces changes is lost): health reports it until a
   * read succeeds. The caller forces that read once the channel is back.
   */
  unhealthy (err: Error): void { this.#failed(err) }

  async #read (force: boolean): Promise<boolean> {
    try {
      const version = await (this.#opts.version ?? (async () => await fileVersion(this.#opts.path)))()
      if (!force && version === this.#version) {
        return this.#opts.timeDependent === true && this.#install(this.#value, true)
      }
      const value = await this.#opts.load()
      // Recorded only after a good read: a bad file is read again at the next poll.
      this.#version = version
      this.#recovered()
      return this.#install(value, false)
    } catch (err) {
      this.#failed(err)
      return false
    }
  }

  /** Derives the view of `value`; a change goes to the listeners. `onlyIfChanged`: an unchanged view is not even swapped. */
  #install (value: T, onlyIfChanged: boolean): boolean {
    const previous = this.#view
    const view = this.#opts.view(value)
    const changed = this.#opts.changed?.(view, previous) ?? true
    if (!changed && onlyIfChanged) return false
    this.#value = value
    this.#view = view
    if (!changed) return false
    for (const listener of this.#listeners) listener(view, previous)
    return true
  }

  #failed (err: unknown): void {
    const code = (err as { code?: unknown }).code
    const failure = { code: typeof code === 'string' ? code : 'ERROR', message: (err as Error).message, since: this.#health.failure?.since ?? this.#opts.clock() }
    const repeated = this.#health.failure?.code === failure.code && this.#health.failure.message === failure.message
    this.#health = { failure, failures: this.#health.failures + 1 }
    if (repeated) return
    this.#opts.log.error({ event: `${this.#opts.event}.reload_failed`, err: { code: failure.code, message: failure.message } },
      `${this.#opts.label} reload failed: still serving the last good one (logged once until the failure changes or ends)`)
  }

  #recovered (): void {
    const failure = this.#health.failure
    if (failure === undefined) return
    this.#health = { failure: undefined, failures: this.#health.failures }
    this.#opts.log.info({ event: `${this.#opts.event}.reload_recovered`, failed_for_s: Math.round((this.#opts.clock() - failure.since) / 1000) },
      `${this.#opts.version === undefined ? basename(this.#opts.path) : this.#opts.path} is readable again: serving it`)
  }
}
