// Snapshot format 2: exact round trip (odd keys, no geometry, long lines), version 1 still read and rewritten, every truncation caught.
import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { EmbeddedFeatureStore } from '../../src/features/embedded/store.js'
import { frame } from '../../src/features/embedded/lines.js'
import { readSnapshot, writeSnapshot, SNAPSHOT_FILE } from '../../src/features/embedded/snapshot.js'
import type { CollectionDef } from '../../src/features/store.js'
import { FeatureIndex } from '../../src/features/embedded/feature-index.js'
import type { OrgId } from '../../src/features/store.js'
import type { Log } from '../../src/shared/log.js'

const DEFS: CollectionDef[] = [
  { id: 'sites', title: 'Sites', description: 'd', temporalProperty: 'at', queryables: ['kind'] },
  { id: 'odd "one"', title: 'Odd', description: 'd', queryables: [] }
]
const infos: string[] = []
const log = { info: (...a: unknown[]) => { infos.push(JSON.stringify(a)) }, warn: () => {}, error: () => {} } as unknown as Log

/** Everything an index answers, per partition, with ETags. */
function dump (index: FeatureIndex): unknown {
  return [...index.entries()].map(({ org, collection, feature: f }) =>
    [org, collection, f.id, f.etag, f.json, f.hasGeometry, f.minX, f.minY, f.maxX, f.maxY, f.time])
}

function sample (): FeatureIndex {
  const index = new FeatureIndex(DEFS)
  index.put('acme', 'sites', 'plain', { type: 'Feature', geometry: { type: 'Point', coordinates: [-0.1, 51.5] }, properties: { at: '2025-01-01T00:00:00Z', kind: 'office' } })
  index.put('acme', 'sites', 'no geometry, no time', { type: 'Feature', geometry: null, properties: null })
  index.put('acme', 'sites', 'poly', { type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[179, -1], [180, -1], [180, 1], [179, 1], [179, -1]]] }, properties: { at: '1969-07-20T20:17:00Z' } })
  // Keys JSON must escape: quotes, a backslash, a tab, a newline, non-ASCII.
  index.put('org "quoted"\\\t\n', 'odd "one"', 'id\twith "all"\\ of ü 🌍', { type: 'Feature', geometry: { type: 'Point', coordinates: [-180, -90] }, properties: { name: 'ü 🌍 "x"' } })
  index.put('ü-org', 'sites', '-0', { type: 'Feature', geometry: { type: 'Point', coordinates: [-0, 5e-324] }, properties: { at: '2025-01-01T00:00:00.123Z' } })
  return index
}

t.test('a snapshot reads back exactly what was written: keys, JSON, ETags, boxes, times, order', async t => {
  const dir = t.testdir()
  const index = sample()
  await writeSnapshot(dir, DEFS, index.entries())
  const read = await readSnapshot(dir)
  t.equal(read?.version, 2)
  t.strictSame(read?.index.defs, DEFS)
  t.strictSame(dump(read?.index as FeatureIndex), dump(index))
  t.strictSame(read?.index.list('acme', 'sites', { bbox: [178, -2, -178, 2], properties: {}, limit: 10, offset: 0 }).items.map(f => f.id), ['poly'], 'the index over a read snapshot answers bbox queries')
  t.equal(read?.index.get('ü-org', 'sites', '-0')?.minX, -0, 'numbers are exact, down to -0')
  t.equal(read?.index.get('ü-org', 'sites', '-0')?.minY, 5e-324)
})

t.test('a line longer than the read buffer is read whole', async t => {
  const dir = t.testdir()
  const index = new FeatureIndex(DEFS)
  const long = 'x'.repeat(9 << 20)
  index.put('acme', 'sites', 'big', { type: 'Feature', geometry: { type: 'Point', coordinates: [1, 2] }, properties: { long } })
  index.put('acme', 'sites', 'after', { type: 'Feature', geometry: { type: 'Point', coordinates: [3, 4] }, properties: null })
  await writeSnapshot(dir, DEFS, index.entries())
  const read = await readSnapshot(dir)
  t.strictSame(dump(read?.index as FeatureIndex), dump(index))
})

t.test('every truncation and every flipped byte of a snapshot is APP_FEATURES_CORRUPT', async t => {
  const dir = t.testdir()
  await writeSnapshot(dir, DEFS, sample().entries())
  const path = join(dir, SNAPSHOT_FILE)
  const whole = await readFile(path)
  let caught = 0
  // Cut anywhere short of the last newline: the count line is missing or fails its checksum.
  for (let cut = 0; cut < whole.length - 1; cut += 7) {
    await writeFile(path, whole.subarray(0, cut))
    if (await readSnapshot(dir).then(() => false, (err: { code?: string }) => err.code === 'APP_FEATURES_CORRUPT')) caught++
    else t.fail(`a snapshot cut at byte ${cut} of ${whole.length} was accepted`)
  }
  for (let at = 0; at < whole.length; at += 5) {
    if (whole[at] === 10) continue
    const damaged = Buffer.from(whole)
    damaged[at] = (damaged[at] as number) ^ 0x01
    await writeFile(path, damaged)
    if (await readSnapshot(dir).then(() => false, (err: { code?: string }) => err.code === 'APP_FEATURES_CORRUPT')) caught++
    else t.fail(`a flipped bit at byte ${at} was accepted`)
  }
  t.ok(caught > 100, `${caught} damaged snapshots refused`)
  await writeFile(path, whole)
  t.ok(await readSnapshot(dir), 'the undamaged snapshot still reads')
})

t.test('a version 1 snapshot opens with the same served JSON and ETags, and is rewritten as version 2', async t => {
  const dir = t.testdir()
  const index = sample()
  // Version 1 kept the input feature without the stamped org.
  const lines = [frame(JSON.stringify({ version: 1, collections: DEFS }))]
  for (const { org, collection, feature } of index.entries()) {
    const { org: _org, ...properties } = feature.feature.properties ?? {}
    lines.push(frame(JSON.stringify({ o: org, c: collection, f: { ...feature.feature, properties } })))
  }
  lines.push(frame(JSON.stringify({ end: lines.length - 1 })))
  await writeFile(join(dir, SNAPSHOT_FILE), lines.join(''))
  const store = await EmbeddedFeatureStore.open({ dir, log })
  t.teardown(() => store.close())
  t.ok(infos.some(l => l.includes('features.snapshot_upgraded')), 'the upgrade is logged')
  t.match(await readFile(join(dir, SNAPSHOT_FILE), 'utf8'), /^[0-9a-f]{8} \{"version":2,/, 'rewritten as version 2')
  const reread = await readSnapshot(dir)
  t.strictSame(dump(reread?.index as FeatureIndex), dump(index), 'the same features, JSON and ETags as before the upgrade')
  const plain = await store.forOrg('acme' as OrgId).get('sites', 'plain')
  t.equal(plain?.etag, index.get('acme', 'sites', 'plain')?.etag)
})

t.test('a snapshot that repeats an id is damage: APP_FEATURES_CORRUPT, not a silently merged partition', async t => {
  const dir = t.testdir()
  const entries = [...sample().entries()]
  await writeSnapshot(dir, DEFS, [...entries, entries[0] as (typeof entries)[number]])
  await t.rejects(readSnapshot(dir), { code: 'APP_FEATURES_CORRUPT', message: /appears twice/ })
})
