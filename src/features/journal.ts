// Owns the feature store's files: a checksummed append-only journal (fsync per write) and compacted snapshots.
import { open, rename, stat, truncate, type FileHandle } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { crc32 } from 'node:zlib'
import { join } from 'node:path'
import { FeatureStoreCorrupt } from '../errors.js'
import { writeFileAtomic } from '../atomic-file.js'
import type { Feature } from './geojson.js'
import type { CollectionDef } from './store.js'

export type JournalOp =
  | { op: 'put', org: string, collection: string, id: string, feature: Feature }
  | { op: 'del', org: string, collection: string, id: string }

export interface SnapshotEntry { org: string, collection: string, feature: Feature }

export const SNAPSHOT_FILE = 'snapshot.jsonl'
export const JOURNAL_FILE = 'journal.log'

const frame = (json: string): string => `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`

function unframe (line: string): string | undefined {
  const json = line.slice(9)
  return line.length > 9 && line[8] === ' ' && crc32(json).toString(16).padStart(8, '0') === line.slice(0, 8) ? json : undefined
}

async function * lines (path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })
  for await (const line of rl) yield line
}

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, (err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return false; throw err })
}

/** Reads the snapshot: every line checksummed, and a final count line proves it is complete. */
export async function readSnapshot (dir: string): Promise<{ collections: CollectionDef[], entries: SnapshotEntry[] } | null> {
  const path = join(dir, SNAPSHOT_FILE)
  if (!await exists(path)) return null
  let header: { version: number, collections: CollectionDef[] } | undefined
  const entries: SnapshotEntry[] = []
  let end: number | undefined
  let n = 0
  for await (const line of lines(path)) {
    n++
    const json = unframe(line)
    if (json === undefined || end !== undefined) throw new FeatureStoreCorrupt(path, `line ${n} fails its checksum`)
    const value = JSON.parse(json) as Record<string, unknown>
    if (header === undefined) {
      if (value.version !== 1 || !Array.isArray(value.collections)) throw new FeatureStoreCorrupt(path, 'bad header')
      header = value as unknown as typeof header
    } else if (typeof value.end === 'number') {
      end = value.end
    } else {
      entries.push({ org: value.o as string, collection: value.c as string, feature: value.f as Feature })
    }
  }
  if (header === undefined || end !== entries.length) throw new FeatureStoreCorrupt(path, 'snapshot is incomplete')
  return { collections: header.collections, entries }
}

export async function writeSnapshot (dir: string, collections: readonly CollectionDef[], entries: Iterable<SnapshotEntry>): Promise<void> {
  function * content (): Generator<string> {
    yield frame(JSON.stringify({ version: 1, collections }))
    let count = 0
    for (const e of entries) { count++; yield frame(JSON.stringify({ o: e.org, c: e.collection, f: e.feature })) }
    yield frame(JSON.stringify({ end: count }))
  }
  await writeFileAtomic(join(dir, SNAPSHOT_FILE), content(), 0o600)
}

/**
 * Replays the journal. A last line without its newline or checksum is a write that was never acknowledged
 * (the process died mid-append) and is cut off; a bad line anywhere else is damage and stops start-up.
 */
export async function readJournal (dir: string, warn: (msg: string) => void): Promise<JournalOp[]> {
  const path = join(dir, JOURNAL_FILE)
  if (!await exists(path)) return []
  const ops: JournalOp[] = []
  let validBytes = 0
  let lastBytes = 0
  let pendingBad: number | undefined
  let n = 0
  for await (const line of lines(path)) {
    n++
    if (pendingBad !== undefined) throw new FeatureStoreCorrupt(path, `line ${pendingBad} fails its checksum`)
    const json = unframe(line)
    if (json === undefined) { pendingBad = n; continue }
    ops.push(JSON.parse(json) as JournalOp)
    lastBytes = Buffer.byteLength(line) + 1
    validBytes += lastBytes
  }
  const size = (await stat(path)).size
  if (validBytes > size) {
    // The last frame checks out but its newline never reached the disk, so its append was never acknowledged;
    // keeping it would glue the next append onto the same line.
    ops.pop()
    validBytes -= lastBytes
  }
  if (validBytes < size) {
    warn(`journal ${path}: dropped an unacknowledged torn write at its end (${size - validBytes} bytes)`)
    await truncate(path, validBytes)
  }
  return ops
}

/** The open journal: each append is on disk (fsync) before it resolves. */
export class Journal {
  #fh: FileHandle
  #count: number
  readonly #dir: string

  private constructor (dir: string, fh: FileHandle, count: number) {
    this.#dir = dir
    this.#fh = fh
    this.#count = count
  }

  static async open (dir: string, count: number): Promise<Journal> {
    return new Journal(dir, await open(join(dir, JOURNAL_FILE), 'a', 0o600), count)
  }

  /** Operations since the last snapshot. */
  get count (): number { return this.#count }

  async append (op: JournalOp): Promise<void> {
    await this.#fh.write(frame(JSON.stringify(op)))
    await this.#fh.datasync()
    this.#count++
  }

  /** Snapshot first, then an empty journal: a crash between the two replays ops already in the snapshot, which is harmless. */
  async compact (collections: readonly CollectionDef[], entries: Iterable<SnapshotEntry>): Promise<void> {
    await writeSnapshot(this.#dir, collections, entries)
    const fresh = join(this.#dir, `.${JOURNAL_FILE}.new`)
    await writeFileAtomic(fresh, '', 0o600)
    await rename(fresh, join(this.#dir, JOURNAL_FILE))
    await this.#fh.close()
    this.#fh = await open(join(this.#dir, JOURNAL_FILE), 'a', 0o600)
    this.#count = 0
  }

  async close (): Promise<void> { await this.#fh.close() }
}
