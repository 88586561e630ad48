// Owns the inter-process lock around each read-modify-write of keyring.json and clients.json: flock(2) on a lock file.
import { close, constants, ftruncate, open, write } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { flockSync } from 'fs-ext'

export interface LockOptions {
  /** How long to wait for another holder before giving up with `onBusy`. */
  timeoutMs?: number
}

/** Holders keep the lock for milliseconds (read, change, atomic write): a wait this long means something is wrong. */
export const LOCK_TIMEOUT_MS = 5000

// A plain descriptor, not a FileHandle: a FileHandle that becomes unreachable is closed by the garbage collector,
// which would release the lock in the middle of `fn`.
const openFd = promisify(open)
const closeFd = promisify(close)
const truncateFd = promisify(ftruncate)
const writeFd = promisify(write)

function busy (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'EAGAIN' || code === 'EWOULDBLOCK'
}

/**
 * Runs `fn` holding an exclusive flock(2) on `<path>.lock`, so two processes (cron rotation and an operator's
 * `--emergency`, two `clients` commands, two first starts) never read-modify-write `path` at the same time.
 *
 * The kernel decides who holds the lock and drops it when the holder's file descriptor closes, including when
 * the holder is killed: nothing is inferred from the file's content or from pids, so an empty lock file, a pid
 * reused by another process or a lock file left by a crash never blocks anyone. The lock file is never deleted
 * (deleting a flock'd file lets a waiter lock the unlinked inode while a newcomer locks a new one) and never the
 * data file, which `fn` replaces atomically. flock locks belong to the open file description, so two callers in
 * one process exclude each other too. Waiting is polling with LOCK_NB (a blocking flock cannot be cancelled at
 * the timeout); after `timeoutMs`, `onBusy` gets the holder as it described itself (pid, host, since when).
 */
export async function withLock<T> (path: string, fn: () => Promise<T>, onBusy: (holder: string) => Error, opts: LockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`
  await mkdir(dirname(lockPath), { recursive: true, mode: 0o700 })
  const fd = await openFd(lockPath, constants.O_RDWR | constants.O_CREAT, 0o600)
  try {
    const deadline = performance.now() + (opts.timeoutMs ?? LOCK_TIMEOUT_MS)
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      try { flockSync(fd, 'exnb'); break } catch (err) { if (!busy(err)) throw err }
      const left = deadline - performance.now()
      if (left <= 0) {
        const holder = (await readFile(lockPath, 'utf8').catch(() => '')).trim()
        throw onBusy(holder === '' ? 'holder unknown' : holder)
      }
      await sleep(Math.min(delay, left))
    }
    // Only for the message a waiter prints: the lock itself is the kernel's.
    await truncateFd(fd, 0)
    await writeFd(fd, `pid ${process.pid} on ${hostname()} since ${new Date().toISOString()}\n`, 0)
    try { return await fn() } finally { await truncateFd(fd, 0).catch(() => {}) }
  } finally {
    await closeFd(fd) // releases the lock
  }
}

/** A lock held for as long as its holder runs (holdLock); `release` is idempotent. */
export interface HeldLock { release: () => Promise<void> }

/**
 * Takes an exclusive flock(2) on `lockPath` and keeps it until `release` (or the process's end, a kill included):
 * a store with one writer refuses a second process at once, with `onBusy` naming the holder. Not waited for: the
 * other process is alive (the kernel dropped a dead one's lock), and it does not go away by itself.
 */
export async function holdLock (lockPath: string, onBusy: (holder: string) => Error): Promise<HeldLock> {
  await mkdir(dirname(lockPath), { recursive: true, mode: 0o700 })
  const fd = await openFd(lockPath, constants.O_RDWR | constants.O_CREAT, 0o600)
  try {
    flockSync(fd, 'exnb')
  } catch (err) {
    await closeFd(fd)
    if (!busy(err)) throw err
    const holder = (await readFile(lockPath, 'utf8').catch(() => '')).trim()
    throw onBusy(holder === '' ? 'holder unknown' : holder)
  }
  await truncateFd(fd, 0)
  await writeFd(fd, `pid ${process.pid} on ${hostname()} since ${new Date().toISOString()}\n`, 0)
  let released = false
  return {
    release: async () => {
      if (released) return
      released = true
      await truncateFd(fd, 0).catch(() => {})
      await closeFd(fd)
    }
  }
}
