// Owns the snapshot file: every live feature in one checksummed file, written atomically by a compaction.
import { join } from 'node:path'
import { FeatureStoreCorrupt } from '../../shared/errors.js'
import { writeFileAtomic } from '../../shared/atomic-file.js'
import type { Feature } from '../geojson.js'
import { eachLine, exists, frame, framed } from './lines.js'
import { hexNumber, readHexNumber, HEX_NUMBER_LENGTH } from './hex-number.js'
import type { CollectionDef } from '../store.js'
import { FeatureIndex, type FeatureRecord, type IndexedFeature } from './feature-index.js'

export const SNAPSHOT_FILE = 'snapshot.jsonl'

/** What a snapshot holds per feature: the index's own view of it (served JSON, box, time). */
export interface SnapshotEntry { org: string, collection: string, feature: IndexedFeature }

// Version 2 writes each number with hex-number.ts: five of them (time, box) open every feature line.
const NUMBERS = 5 * HEX_NUMBER_LENGTH

/** Positions of the six quotes of the keys, reused: a load allocates only what it keeps. */
const q = new Int32Array(6)

/** Whether bytes [start, end) are `text` (ASCII only; anything else is decoded, not compared). */
function sameText (text: string, buf: Buffer, start: number, end: number): boolean {
  if (text.length !== end - start || text === '') return false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c > 127 || c !== buf[start + i]) return false
  }
  return true
}

/**
 * Sets org, collection and id from the JSON array `["org","collection","id"]` in bytes [start, end). Without a
 * backslash each string is just the bytes between its quotes, so the common case needs no JSON.parse.
 */
function readKeys (buf: Buffer, start: number, end: number, into: FeatureRecord): void {
  let n = 0
  for (let i = start; i < end; i++) {
    const c = buf[i]
    if (c === 92) { // a backslash: an escape, so let JSON decode it
      [into.org, into.collection, into.id] = JSON.parse(buf.toString('utf8', start, end)) as [string, string, string]
      return
    }
    if (c === 34) { if (n === 6) throw new Error('bad keys'); q[n++] = i }
  }
  if (n !== 6 || buf[end - 1] !== 93) throw new Error('bad keys')
  // Lines come partition by partition: the org and collection of the last line are usually this line's too,
  // and comparing bytes is cheaper than decoding two strings a million times.
  if (!sameText(into.org, buf, (q[0] as number) + 1, q[1] as number)) into.org = buf.toString('utf8', (q[0] as number) + 1, q[1])
  if (!sameText(into.collection, buf, (q[2] as number) + 1, q[3] as number)) into.collection = buf.toString('utf8', (q[2] as number) + 1, q[3])
  into.id = buf.toString('utf8', (q[4] as number) + 1, q[5])
}

/**
 * Reads the snapshot: every line checksummed, and a final count line proves it is complete.
 * A version 2 feature line is `<time><minX><minY><maxX><maxY>["org","collection","id"]<TAB><served JSON>`
 * (numbers as hex, NaN for none): the feature is kept as the very string it is served as, so a load parses
 * no GeoJSON. Version 1 lines (`{o, c, f}`, the input feature) are still read; the caller rewrites them as version 2.
 */
export async function readSnapshot (dir: string): Promise<{ version: number, index: FeatureIndex } | null> {
  const path = join(dir, SNAPSHOT_FILE)
  if (!await exists(path)) return null
  let version: number | undefined
  let index: FeatureIndex | undefined
  let count = 0
  let end: number | undefined
  const record: FeatureRecord = { org: '', collection: '', id: '', json: '', time: NaN, minX: NaN, minY: NaN, maxX: NaN, maxY: NaN }
  function line (buf: Buffer, start: number, stop: number): void {
    const keys = start + 9 + NUMBERS
    const tab = version === 2 && keys < stop && buf[keys] === 91 ? buf.indexOf(9, keys) : -1 // 91: the "[" of the keys
    if (index !== undefined && tab !== -1 && tab < stop) {
      readKeys(buf, keys, tab, record)
      record.json = buf.toString('utf8', tab + 1, stop)
      record.time = readHexNumber(buf, start + 9)
      record.minX = readHexNumber(buf, start + 25)
      record.minY = readHexNumber(buf, start + 41)
      record.maxX = readHexNumber(buf, start + 57)
      record.maxY = readHexNumber(buf, start + 73)
      index.restore(record)
      count++
      return
    }
    const value = JSON.parse(buf.toString('utf8', start + 9, stop)) as Record<string, unknown>
    if (index === undefined) {
      if ((value.version !== 1 && value.version !== 2) || !Array.isArray(value.collections)) throw new FeatureStoreCorrupt(path, 'bad header')
      version = value.version
      index = new FeatureIndex(value.collections as CollectionDef[])
    } else if (typeof value.end === 'number') {
      end = value.end
    } else {
      const feature = value.f as Feature
      index.put(value.o as string, value.c as string, String(feature.id), feature)
      count++
    }
  }
  await eachLine(path, (buf, start, stop, n) => {
    if (!framed(buf, start, stop) || end !== undefined) throw new FeatureStoreCorrupt(path, `line ${n} fails its checksum`)
    // A checksummed line that does not parse or fits no collection is a writer's bug, but still no state to serve.
    try { line(buf, start, stop) } catch (err) {
      throw err instanceof FeatureStoreCorrupt ? err : new FeatureStoreCorrupt(path, `line ${n}: ${(err as Error).message}`)
    }
  })
  if (index === undefined || version === undefined || end !== count) throw new FeatureStoreCorrupt(path, 'snapshot is incomplete')
  return { version, index }
}

export async function writeSnapshot (dir: string, collections: readonly CollectionDef[], entries: Iterable<SnapshotEntry>): Promise<void> {
  function * content (): Generator<string> {
    yield frame(JSON.stringify({ version: 2, collections }))
    let count = 0
    for (const { org, collection, feature: f } of entries) {
      count++
      const numbers = [f.time ?? NaN, ...f.hasGeometry ? [f.minX, f.minY, f.maxX, f.maxY] : [NaN, NaN, NaN, NaN]].map(hexNumber).join('')
      // JSON never holds a raw tab, so the first tab ends the keys.
      yield frame(`${numbers}${JSON.stringify([org, collection, f.id])}\t${f.json}`)
    }
    yield frame(JSON.stringify({ end: count }))
  }
  await writeFileAtomic(join(dir, SNAPSHOT_FILE), content(), 0o600)
}
