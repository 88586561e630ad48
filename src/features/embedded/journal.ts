// Owns the journal file: the checksummed, append-only log of the writes since the last snapshot (fsync per write).
import { open, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { FeatureStoreCorrupt, FeatureStoreUnavailable } from '../../shared/errors.js'
import { removeStaleTemps, syncDir, writeAll } from '../../shared/atomic-file.js'
import type { Feature } from '../geojson.js'
import { eachLine, exists, frame, framed } from './lines.js'
import { writeSnapshot, type SnapshotEntry } from './snapshot.js'
import type { CollectionDef } from '../store.js'

export type JournalOp =
  | { op: 'put', org: string, collection: string, id: string, feature: Feature }
  | { op: 'del', org: string, collection: string, id: string }

export const JOURNAL_FILE = 'journal.log'
/** The empty journal a compaction renames over the old one. */
const SWAP_FILE = `.${JOURNAL_FILE}.new`

/**
 * Replays the journal into `apply` while reading it, so a start holds the live data and one operation, never
 * the whole journal. A last line without its newline or checksum is a write that was never acknowledged (the
 * process died mid-append) and is cut off; a bad line anywhere else is damage and stops start-up.
 * Returns how many operations were applied.
 */
export async function replayJournal (dir: string, apply: (op: JournalOp) => void, warn: (msg: string) => void): Promise<number> {
  const path = join(dir, JOURNAL_FILE)
  if (!await exists(path)) return 0
  let count = 0
  let validBytes = 0
  let lastBytes = 0
  let pendingBad: number | undefined
  // The last good frame is applied only once something follows it: if the file ends right after it without its
  // newline, that frame's append was never acknowledged (see below).
  let pending: { op: JournalOp, n: number } | undefined
  const applyPending = (): void => {
    if (pending === undefined) return
    try { apply(pending.op) } catch (err) { throw new FeatureStoreCorrupt(path, `line ${pending.n}: ${(err as Error).message}`) }
    count++
    pending = undefined
  }
  await eachLine(path, (buf, start, stop, n) => {
    if (pendingBad !== undefined) throw new FeatureStoreCorrupt(path, `line ${pendingBad} fails its checksum`)
    if (!framed(buf, start, stop)) { pendingBad = n; return }
    applyPending()
    // A checksummed line that does not parse is a writer's bug, but still no state to serve.
    try { pending = { op: JSON.parse(buf.toString('utf8', start + 9, stop)) as JournalOp, n } } catch (err) {
      throw new FeatureStoreCorrupt(path, `line ${n}: ${(err as Error).message}`)
    }
    lastBytes = stop - start + 1
    validBytes += lastBytes
  })
  const size = (await stat(path)).size
  if (validBytes > size) {
    // The last frame checks out but its newline never reached the disk, so its append was never acknowledged;
    // keeping it would glue the next append onto the same line.
    pending = undefined
    validBytes -= lastBytes
  }
  applyPending()
  if (validBytes < size) {
    warn(`journal ${path}: dropped an unacknowledged torn write at its end (${size - validBytes} bytes)`)
    await truncate(path, validBytes)
  }
  return count
}

/**
 * The open journal. An append resolves only once its whole frame is on disk (fsync). One that fails is cut back
 * to the last whole frame before anything else may be appended, so no later frame can land after torn bytes;
 * when even that fails the journal is fenced: it refuses every append until cutBack() succeeds.
 */
export class Journal {
  #fh: FileHandle
  #count: number
  /** Bytes of whole, durable frames: where the next frame starts. */
  #size: number
  /** Bytes past #size may be on disk (a failed append that could not be cut back). */
  #fenced = false
  /** Whether the file's directory entry is durable: a new file's is not until its directory is fsynced. */
  #linked: boolean
  readonly #dir: string

  private constructor (dir: string, fh: FileHandle, count: number, size: number, linked: boolean) {
    this.#dir = dir
    this.#fh = fh
    this.#count = count
    this.#size = size
    this.#linked = linked
  }

  /** Opens the journal after replayJournal() has cut off any torn end; `count` is the number of operations in it. */
  static async open (dir: string, count: number): Promise<Journal> {
    // An interrupted compaction's empty journal (earlier versions wrote it through writeFileAtomic: its temps too).
    await unlink(join(dir, SWAP_FILE)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
    await removeStaleTemps(join(dir, SWAP_FILE))
    const path = join(dir, JOURNAL_FILE)
    const linked = await exists(path)
    const fh = await open(path, 'a', 0o600)
    return new Journal(dir, fh, count, (await fh.stat()).size, linked)
  }

  /** Operations since the last snapshot. */
  get count (): number { return this.#count }
  /** Bytes since the last snapshot. */
  get size (): number { return this.#size }
  /** Whether appends are refused because a failed one could not be cut back. */
  get fenced (): boolean { return this.#fenced }

  async append (op: JournalOp): Promise<void> {
    if (this.#fenced) throw new FeatureStoreUnavailable('an earlier failed write could not be cut back from the journal')
    const bytes = Buffer.from(frame(JSON.stringify(op)))
    try {
      // A new journal's name must be durable before a write in it is acknowledged.
      if (!this.#linked) { await syncDir(this.#dir); this.#linked = true }
      // At the end of the last whole frame, explicitly: a cut back does not move a file's write position.
      await writeAll(this.#fh, bytes, this.#size)
      await this.#fh.datasync()
    } catch (err) {
      await this.cutBack().catch(() => {}) // on failure the journal is now fenced; the store retries and logs it
      throw new FeatureStoreUnavailable('the write could not be made durable and was not applied', { cause: err })
    }
    this.#size += bytes.length
    this.#count++
  }

  /** Cuts the file back to its last whole frame, durably; while that fails, the journal stays fenced. */
  async cutBack (): Promise<void> {
    try {
      await this.#fh.truncate(this.#size)
      await this.#fh.datasync()
      this.#fenced = false
    } catch (err) {
      this.#fenced = true
      throw err
    }
  }

  /**
   * Snapshot first, then an empty journal renamed over this one: a crash between the two replays ops already in
   * the snapshot, which is harmless. The rename's directory entry is made durable by the next append, before it
   * is acknowledged; until then a power loss brings back the old journal, whose ops the snapshot already holds.
   * A fenced journal may be compacted: its torn bytes go with the old file.
   */
  async compact (collections: readonly CollectionDef[], entries: Iterable<SnapshotEntry>): Promise<void> {
    await writeSnapshot(this.#dir, collections, entries)
    const swap = join(this.#dir, SWAP_FILE)
    const fresh = await open(swap, 'w', 0o600)
    try {
      await fresh.sync()
      await rename(swap, join(this.#dir, JOURNAL_FILE))
    } catch (err) {
      await fresh.close()
      await unlink(swap).catch(() => {})
      throw err
    }
    const old = this.#fh
    this.#fh = fresh
    this.#count = 0
    this.#size = 0
    this.#fenced = false
    this.#linked = false
    await old.close()
  }

  async close (): Promise<void> { await this.#fh.close() }
}
