// EmbeddedFeatureStore on disk: durable writes, torn and damaged journals, snapshots, compaction, seeding, If-Match.
import t, { type Test } from 'tap'
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { EmbeddedFeatureStore } from '../../src/features/embedded/store.js'
import { JOURNAL_FILE, replayJournal, type JournalOp } from '../../src/features/embedded/journal.js'
import { SNAPSHOT_FILE } from '../../src/features/embedded/snapshot.js'
import { Problem } from '../../src/shared/errors.js'
import type { Feature } from '../../src/features/geojson.js'
import type { Log } from '../../src/shared/log.js'
import { smallSeed } from '../helpers/app.js'
import type { OrgId } from '../../src/features/store.js'

type Tap = Pick<Test, 'testdir'>

interface Logged { warnings: string[], infos: string[], log: Log }
function logger (): Logged {
  const warnings: string[] = []
  const infos: string[] = []
  const text = (args: unknown[]): string => args.map(a => typeof a === 'string' ? a : JSON.stringify(a)).join(' ')
  const log = { info: (...a: unknown[]) => { infos.push(text(a)) }, warn: (...a: unknown[]) => { warnings.push(text(a)) }, error: () => {} } as unknown as Log
  return { warnings, infos, log }
}

/** A fresh directory with the small seed; `dir` is the store's own directory (created by open). */
function fixture (t: Tap): { dir: string, seedFile: string, journal: string, snapshot: string } {
  const root = t.testdir({ 'seed.geojson': smallSeed() })
  const dir = join(root, 'features')
  return { dir, seedFile: join(root, 'seed.geojson'), journal: join(dir, JOURNAL_FILE), snapshot: join(dir, SNAPSHOT_FILE) }
}

async function openStore (f: { dir: string, seedFile: string }, extra: { compactEvery?: number, log?: Log } = {}): Promise<EmbeddedFeatureStore> {
  return await EmbeddedFeatureStore.open({ dir: f.dir, seedFile: f.seedFile, log: extra.log ?? logger().log, ...(extra.compactEvery === undefined ? {} : { compactEvery: extra.compactEvery }) })
}

const point = (lon: number, lat: number, props: Record<string, unknown> = {}): Feature =>
  ({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { kind: 'depot', observed_at: '2025-05-05T00:00:00Z', ...props } })

const ORGS = ['acme', 'globex', 'initech']
/** Everything the store answers: every org, every collection, every feature as served with its ETag, in order. */
async function dump (store: EmbeddedFeatureStore): Promise<unknown> {
  return {
    collections: store.collections(),
    data: await Promise.all(ORGS.flatMap(org => store.collections().map(async c => ({
      org,
      collection: c.id,
      extent: await store.forOrg(org as OrgId).extent(c.id),
      items: (await store.forOrg(org as OrgId).list(c.id, { properties: {}, limit: 1_000_000, offset: 0 })).items.map(f => [f.id, f.etag, f.json])
    }))))
  }
}

/** Compaction runs after a write has answered: waits (up to 15 s of a loaded machine) until it has emptied the journal. */
async function compacted (journal: string): Promise<number> {
  const deadline = Date.now() + 15_000
  while ((await stat(journal)).size !== 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  return (await stat(journal)).size
}

const lines = async (path: string): Promise<string[]> => (await readFile(path, 'utf8')).split('\n').filter(l => l !== '')
const frame = (json: string): string => `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`

/** A store with a few writes of every kind, closed; returns what it answered before closing. */
async function populated (t: Tap, extra: { compactEvery?: number } = {}) {
  const f = fixture(t)
  const store = await openStore(f, extra)
  const created = []
  for (let i = 0; i < 6; i++) created.push(await store.forOrg(ORGS[i % 3] as string as OrgId).create('sites', point(i, i, { name: `w${i}` })))
  const first = created[0]
  if (first === undefined) throw new Error('no feature created')
  await store.forOrg('acme' as OrgId).replace('sites', first.id, point(50, 50, { name: 'replaced' }))
  await store.forOrg('acme' as OrgId).delete('sites', 'a2')
  await store.forOrg('acme' as OrgId).create('networks', { type: 'Feature', geometry: { type: 'LineString', coordinates: [[0, 0], [1, 1]] }, properties: null })
  const before = await dump(store)
  await store.close()
  return { f, before, created }
}

t.test('writes survive close and reopen', async t => {
  const { f, before, created } = await populated(t)
  const store = await openStore(f)
  t.teardown(() => store.close())
  t.strictSame(await dump(store), before, 'every org, collection, feature, ETag and order is as before')
  t.equal((await store.forOrg('acme' as OrgId).get('sites', created[0]?.id as string))?.feature.properties?.name, 'replaced', 'the replace is there')
  t.equal((await store.forOrg('acme' as OrgId).get('sites', 'a2')), undefined, 'the delete is there')
  t.equal((await store.forOrg('globex' as OrgId).get('sites', created[1]?.id as string))?.feature.properties?.org, 'globex')
  t.equal((await lines(f.journal)).length, 9, 'one journal line per write')
  t.equal((await stat(f.journal)).mode & 0o777, 0o600, 'the journal is private')
  t.equal((await stat(f.snapshot)).mode & 0o777, 0o600, 'the snapshot is private')

  // Many concurrent creates: every one that resolved is on disk.
  const more = await Promise.all(Array.from({ length: 40 }, async (_, i) => await store.forOrg('initech' as OrgId).create('sites', point(-i, i / 2, { name: `c${i}` }))))
  t.equal(new Set(more.map(m => m.id)).size, 40, 'distinct ids')
  const now = await dump(store)
  await store.close()
  const again = await openStore(f)
  t.strictSame(await dump(again), now, '40 concurrent creates all survive a reopen')
  await again.close()
})

t.test('a torn last journal line is dropped with a warning; every earlier write is kept', async t => {
  const cases: Array<[string, (valid: string) => string]> = [
    ['half a line, no newline', valid => valid.slice(0, Math.floor(valid.length / 2))],
    ['just the checksum and a space', valid => valid.slice(0, 9)],
    ['a complete last line with a bad checksum', valid => valid.replace('"put"', '"pot"')],
    ['a complete last line with a bad checksum and no newline', valid => valid.replace('"put"', '"pot"').slice(0, -1)],
    ['a lone newline', () => '\n']
  ]
  for (const [name, tear] of cases) {
    await t.test(name, async t => {
      const { f, before } = await populated(t)
      const good = await readFile(f.journal, 'utf8')
      const torn = tear(frame(JSON.stringify({ op: 'put', org: 'acme', collection: 'sites', id: 'torn', feature: point(9, 9) })))
      await appendFile(f.journal, torn)
      const logged = logger()
      const store = await openStore(f, { log: logged.log })
      t.strictSame(await dump(store), before, 'the store opens with every earlier write and nothing of the torn one')
      t.equal((await store.forOrg('acme' as OrgId).get('sites', 'torn')), undefined)
      t.equal(logged.warnings.length, 1, 'one warning')
      t.match(logged.warnings[0], /features\.torn_write.*dropped an unacknowledged torn write/)
      t.match(logged.warnings[0], `(${Buffer.byteLength(torn)} bytes)`)
      t.equal(await readFile(f.journal, 'utf8'), good, 'the journal is cut back to its last good line')
      // The next write lands on a clean line and survives.
      const next = await store.forOrg('acme' as OrgId).create('sites', point(1, 2))
      const after = await dump(store)
      await store.close()
      const logged2 = logger()
      const reopened = await openStore(f, { log: logged2.log })
      t.strictSame(await dump(reopened), after, 'a write after the repair survives')
      t.ok((await reopened.forOrg('acme' as OrgId).get('sites', next.id)))
      t.same(logged2.warnings, [], 'no warning the second time')
      await reopened.close()
    })
  }
})

// A crash can cut a write anywhere, including between its last JSON byte and its newline. That line passes its
// checksum, so it is replayed, but the journal is left without a final newline and the next (acknowledged)
// append is glued onto it: one line that fails its checksum.
t.test('a last line that lost only its newline does not swallow the next acknowledged write', async t => {
  const { f } = await populated(t)
  const line = frame(JSON.stringify({ op: 'put', org: 'acme', collection: 'sites', id: 'unacked', feature: point(9, 9) }))
  await appendFile(f.journal, line.slice(0, -1)) // everything but the '\n'
  const logged = logger()
  const store = await openStore(f, { log: logged.log })
  t.ok((await store.forOrg('acme' as OrgId).get('sites', 'unacked')) === undefined || logged.warnings.length === 0,
    'the unacknowledged write is either dropped (with a warning) or kept — the store opens either way')
  const acked = await store.forOrg('acme' as OrgId).create('sites', point(3, 4, { name: 'acknowledged' }))
  const acked2 = await store.forOrg('acme' as OrgId).create('sites', point(5, 6, { name: 'acknowledged too' }))
  const after = await dump(store)
  await store.close()
  t.ok((await readFile(f.journal, 'utf8')).endsWith('\n'), 'the journal ends with a newline')
  const replayed: JournalOp[] = []
  const journal = await replayJournal(f.dir, op => { replayed.push(op) }, () => {}).then(() => replayed.map(op => op.id), (err: Error & { code?: string }) => err.code ?? err.message)
  t.ok(Array.isArray(journal) && journal.includes(acked.id) && journal.includes(acked2.id), `both acknowledged writes read back from the journal (got ${JSON.stringify(journal).slice(0, 200)})`)
  const reopened = await openStore(f).catch((err: Error & { code?: string }) => err)
  if (reopened instanceof Error) {
    t.fail(`reopen after two acknowledged writes fails: ${reopened.code ?? ''} ${reopened.message}`)
    return
  }
  t.teardown(() => reopened.close())
  t.ok((await reopened.forOrg('acme' as OrgId).get('sites', acked.id)), 'the first acknowledged write survives')
  t.ok((await reopened.forOrg('acme' as OrgId).get('sites', acked2.id)), 'the second acknowledged write survives')
  t.strictSame(await dump(reopened), after, 'the reopened store answers as before')
})

t.test('a damaged line in the middle of the journal stops open with APP_FEATURES_CORRUPT', async t => {
  const damages: Array<[string, (l: string) => string]> = [
    ['a flipped byte in the JSON', l => l.replace('"sites"', '"sitez"')],
    ['a flipped byte in the checksum', l => `${l[0] === '0' ? '1' : '0'}${l.slice(1)}`],
    ['a truncated line', l => l.slice(0, 30)],
    ['an empty line', () => '']
  ]
  for (const [name, damage] of damages) {
    await t.test(name, async t => {
      const { f } = await populated(t)
      const all = await lines(f.journal)
      t.ok(all.length >= 5)
      all[3] = damage(all[3] as string)
      const text = all.join('\n') + '\n'
      await writeFile(f.journal, text)
      await t.rejects(openStore(f), { code: 'APP_FEATURES_CORRUPT', message: /journal\.log is damaged: line 4 fails its checksum/ })
      t.equal(await readFile(f.journal, 'utf8'), text, 'the damaged journal is left untouched for the operator')
    })
  }
})

t.test('a damaged snapshot stops open with APP_FEATURES_CORRUPT', async t => {
  const damages: Array<[string, (text: string) => string, RegExp]> = [
    ['its last line (the count) removed', text => text.split('\n').slice(0, -2).join('\n') + '\n', /snapshot is incomplete/],
    ['cut in the middle of its last line', text => text.slice(0, -10), /fails its checksum|incomplete/],
    ['an entry line removed', text => { const l = text.split('\n'); l.splice(2, 1); return l.join('\n') }, /snapshot is incomplete/],
    ['a flipped byte in an entry', text => text.replace('"a1"', '"b1"'), /line \d+ fails its checksum/],
    ['empty', () => '', /snapshot is incomplete/],
    ['a line after the count', text => text + frame(JSON.stringify({ o: 'acme', c: 'sites', f: point(0, 0) })), /fails its checksum/]
  ]
  for (const [name, damage, message] of damages) {
    await t.test(name, async t => {
      const { f } = await populated(t)
      const text = damage(await readFile(f.snapshot, 'utf8'))
      await writeFile(f.snapshot, text)
      await t.rejects(openStore(f), { code: 'APP_FEATURES_CORRUPT', message })
      t.equal(await readFile(f.snapshot, 'utf8'), text, 'the damaged snapshot is left untouched')
    })
  }
})

t.test('compaction writes a snapshot and empties the journal; a reopen answers the same', async t => {
  const f = fixture(t)
  const store = await openStore(f, { compactEvery: 5 })
  t.equal((await stat(f.journal)).size, 0, 'seeding compacts: an empty journal')
  const seededSnapshot = await readFile(f.snapshot, 'utf8')
  const ids: string[] = []
  for (let i = 0; i < 4; i++) ids.push((await store.forOrg('acme' as OrgId).create('sites', point(i, -i, { name: `c${i}` }))).id)
  t.equal((await lines(f.journal)).length, 4, 'four writes, four journal lines')
  t.equal(await readFile(f.snapshot, 'utf8'), seededSnapshot, 'no compaction yet')
  await store.forOrg('acme' as OrgId).replace('sites', ids[0] as string, point(10, 10, { name: 'fifth write' }))
  t.equal(await compacted(f.journal), 0, 'the fifth write compacts: the journal is empty')
  const snap = await lines(f.snapshot)
  t.equal(snap.length, 1 + 6 + 4 + 1, 'header, six seeded and four created features, count')
  t.match(snap.at(-1), /"end":10/)
  await store.forOrg('globex' as OrgId).delete('sites', 'g1')
  await store.forOrg('globex' as OrgId).create('sites', point(-70, 40))
  await Promise.all(Array.from({ length: 3 }, async (_, i) => await store.forOrg('initech' as OrgId).create('sites', point(i, i))))
  t.equal(await compacted(f.journal), 0, 'the tenth write compacts again')
  await store.forOrg('initech' as OrgId).create('networks', { type: 'Feature', geometry: null, properties: { kind: 'x' } })
  t.equal((await lines(f.journal)).length, 1, 'one write after the last compaction')
  const before = await dump(store)
  await store.close()

  const logged = logger()
  const reopened = await openStore(f, { compactEvery: 5, log: logged.log })
  t.strictSame(await dump(reopened), before, 'the same collections, features, ETags, order and extents after a reopen')
  t.same(logged.warnings, [])
  t.notOk(logged.infos.some(l => l.includes('features.seeded')), 'not seeded again')
  await reopened.close()
  // The snapshot alone (an empty journal) also gives the same state, minus the last write.
  await writeFile(f.journal, '')
  const snapOnly = await openStore(f)
  t.equal((await snapOnly.forOrg('initech' as OrgId).list('networks', { properties: {}, limit: 10, offset: 0 })).numberMatched, 0)
  t.equal((await snapOnly.forOrg('initech' as OrgId).list('sites', { properties: {}, limit: 10, offset: 0 })).numberMatched, 3)
  await snapOnly.close()
})

t.test('a crash between snapshot and journal reset replays ops already in the snapshot harmlessly', async t => {
  const { f, before } = await populated(t)
  const journal = await readFile(f.journal, 'utf8')
  // Compact by hand the way Journal.compact does (snapshot first), then "crash" before the journal is emptied.
  const store = await openStore(f, { compactEvery: 1 })
  const last = await store.forOrg('acme' as OrgId).create('sites', point(7, 7))
  const after = await dump(store)
  await store.close()
  t.equal((await stat(f.journal)).size, 0)
  await writeFile(f.journal, journal + frame(JSON.stringify({ op: 'put', org: 'acme', collection: 'sites', id: last.id, feature: point(7, 7) })))
  const reopened = await openStore(f)
  t.teardown(() => reopened.close())
  t.strictSame(await dump(reopened), after, 'the replayed journal lands on the same state')
  t.notSame(after, before)
})

t.test('the seed is loaded only into an empty store', async t => {
  const f = fixture(t)
  const logged = logger()
  const store = await openStore(f, { log: logged.log })
  t.ok(logged.infos.some(l => l.includes('features.seeded')), 'seeded on first open')
  t.same(store.collections().map(c => c.id), ['sites', 'networks'])
  t.ok((await store.forOrg('acme' as OrgId).get('sites', 'a1')), 'a seeded feature is there')
  t.equal((await store.forOrg('acme' as OrgId).get('sites', 'a1'))?.feature.properties?.org, 'acme')
  t.equal((await store.forOrg('globex' as OrgId).get('sites', 'a1')), undefined, 'seeded features belong to their own org')
  await store.forOrg('acme' as OrgId).delete('sites', 'a1')
  await store.close()

  const logged2 = logger()
  const reopened = await openStore(f, { log: logged2.log })
  t.equal((await reopened.forOrg('acme' as OrgId).get('sites', 'a1')), undefined, 'a deleted seeded feature does not come back')
  t.ok((await reopened.forOrg('acme' as OrgId).get('sites', 'a2')), 'the rest of the seed is still there')
  t.notOk(logged2.infos.some(l => l.includes('features.seeded')), 'no second seeding')
  // Delete every seeded feature and compact: an empty but existing store is not reseeded either.
  for (const [org, collection, id] of [['acme', 'sites', 'a2'], ['acme', 'sites', 'a3'], ['globex', 'sites', 'g1'], ['globex', 'sites', 'g2'], ['acme', 'networks', 'n1']] as const) {
    await reopened.forOrg(org as OrgId).delete(collection, id)
  }
  await reopened.close()
  const compacting = await openStore(f, { compactEvery: 1 })
  await compacting.forOrg('acme' as OrgId).create('sites', point(0, 0))
  const lastId = (await compacting.forOrg('acme' as OrgId).list('sites', { properties: {}, limit: 10, offset: 0 })).items[0]?.id as string
  await compacting.forOrg('acme' as OrgId).delete('sites', lastId)
  await compacting.close()
  t.match((await lines(f.snapshot)).at(-1), /"end":0/, 'an empty snapshot')
  const empty = await openStore(f)
  t.teardown(() => empty.close())
  t.same(await Promise.all(ORGS.map(async org => (await empty.forOrg(org as OrgId).list('sites', { properties: {}, limit: 10, offset: 0 })).numberMatched)), [0, 0, 0], 'still empty: the seed is not loaded again')
  t.same(empty.collections().map(c => c.id), ['sites', 'networks'], 'the collections come from the snapshot')
})

t.test('a seed with a bad feature stops first open with APP_FEATURES_SEED_INVALID', async t => {
  const root = t.testdir({ 'seed.geojson': JSON.stringify({ collections: [{ id: 'sites', title: 's', description: 'd', queryables: [] }], features: [{ type: 'Feature', geometry: null, properties: null }] }) })
  await t.rejects(EmbeddedFeatureStore.open({ dir: join(root, 'features'), seedFile: join(root, 'seed.geojson'), log: logger().log }), { code: 'APP_FEATURES_SEED_INVALID' })
})

t.test('a stale If-Match rejects with a 412 Problem and writes nothing', async t => {
  const f = fixture(t)
  const store = await openStore(f)
  t.teardown(() => store.close())
  const original = (await store.forOrg('acme' as OrgId).get('sites', 'a1'))
  if (original === undefined) throw new Error('no a1')
  const updated = await store.forOrg('acme' as OrgId).replace('sites', 'a1', point(2.35, 48.85, { name: 'a1', v: 2 }), { ifMatch: original.etag })
  t.not(updated.etag, original.etag)
  const size = (await stat(f.journal)).size
  const state = await dump(store)

  for (const [name, attempt] of [
    ['replace', async () => await store.forOrg('acme' as OrgId).replace('sites', 'a1', point(0, 0, { v: 3 }), { ifMatch: original.etag })],
    ['replace with a list of stale tags', async () => await store.forOrg('acme' as OrgId).replace('sites', 'a1', point(0, 0), { ifMatch: `"nope", ${original.etag}` })],
    ['replace with a weak form of the current tag', async () => await store.forOrg('acme' as OrgId).replace('sites', 'a1', point(0, 0), { ifMatch: `W/${updated.etag}` })],
    ['delete', async () => { await store.forOrg('acme' as OrgId).delete('sites', 'a1', { ifMatch: original.etag }) }]
  ] as const) {
    const err = await attempt().then(() => null, (e: unknown) => e)
    t.ok(err instanceof Problem, `${name}: rejects with a Problem`)
    t.equal((err as Problem).status, 412, `${name}: status 412`)
    t.equal((err as Problem).title, 'Precondition Failed')
  }
  t.equal((await stat(f.journal)).size, size, 'nothing was appended to the journal')
  t.strictSame(await dump(store), state, 'nothing changed in memory')
  const missing = await store.forOrg('acme' as OrgId).replace('sites', 'nope', point(0, 0), { ifMatch: '*' }).then(() => null, (e: unknown) => e)
  t.equal((missing as Problem).status, 404, 'a missing feature is 404, even with If-Match: *')
  const otherOrg = await store.forOrg('globex' as OrgId).delete('sites', 'a1', { ifMatch: updated.etag }).then(() => null, (e: unknown) => e)
  t.equal((otherOrg as Problem).status, 404, 'another org\'s feature is not found, whatever its ETag')

  // Current tags pass: exact, in a list, or "*".
  const r1 = await store.forOrg('acme' as OrgId).replace('sites', 'a1', point(1, 1, { v: 4 }), { ifMatch: `"x", ${updated.etag}` })
  const r2 = await store.forOrg('acme' as OrgId).replace('sites', 'a1', point(1, 1, { v: 5 }), { ifMatch: '*' })
  await store.forOrg('acme' as OrgId).delete('sites', 'a1', { ifMatch: r2.etag })
  t.not(r1.etag, r2.etag)
  t.equal((await lines(f.journal)).length, 4, 'the three successful writes and the first replace, nothing else')
})

t.test('concurrent replaces with the same If-Match: exactly one succeeds', async t => {
  const f = fixture(t)
  const store = await openStore(f)
  for (let round = 0; round < 5; round++) {
    const current = (await store.forOrg('globex' as OrgId).get('sites', 'g2'))
    if (current === undefined) throw new Error('no g2')
    const size = (await stat(f.journal)).size
    const results = await Promise.allSettled(Array.from({ length: 12 }, async (_, i) =>
      await store.forOrg('globex' as OrgId).replace('sites', 'g2', point(6.1, 48.1, { round, writer: i }), { ifMatch: current.etag })))
    const won = results.flatMap((r, i) => r.status === 'fulfilled' ? [{ i, etag: r.value.etag }] : [])
    const lost = results.filter(r => r.status === 'rejected')
    t.equal(won.length, 1, `round ${round}: exactly one replace succeeds`)
    t.ok(lost.every(r => r.reason instanceof Problem && r.reason.status === 412), 'every other one is a 412')
    const now = (await store.forOrg('globex' as OrgId).get('sites', 'g2'))
    t.equal(now?.etag, won[0]?.etag, 'the stored feature is the winner\'s')
    t.equal(now?.feature.properties?.writer, won[0]?.i)
    const appended = (await readFile(f.journal, 'utf8')).length - size
    t.equal(appended, frame(JSON.stringify({ op: 'put', org: 'globex', collection: 'sites', id: 'g2', feature: point(6.1, 48.1, { round, writer: won[0]?.i }) })).length, 'exactly one journal line was appended')
  }
  // Concurrent deletes with the same If-Match: one deletes, the rest are 412 or 404.
  const current = (await store.forOrg('globex' as OrgId).get('sites', 'g2'))
  const deletes = await Promise.allSettled(Array.from({ length: 5 }, async () => { await store.forOrg('globex' as OrgId).delete('sites', 'g2', { ifMatch: current?.etag }) }))
  t.equal(deletes.filter(r => r.status === 'fulfilled').length, 1, 'exactly one delete succeeds')
  t.ok(deletes.every(r => r.status === 'fulfilled' || (r.reason instanceof Problem && [404, 412].includes(r.reason.status))))
  const state = await dump(store)
  await store.close()
  const reopened = await openStore(f)
  t.teardown(() => reopened.close())
  t.strictSame(await dump(reopened), state, 'the journal replays to the same state')
})

// The snapshot strips the stamped `org` from properties and the index stamps it back at the end; a body that
// carried its own `org` member had it stamped in place, so the served JSON (and its ETag) change across a compaction.
t.test('ETags and served JSON are stable across compaction even when the body carried an org property', async t => {
  const f = fixture(t)
  const store = await openStore(f, { compactEvery: 3 })
  const spoof = await store.forOrg('acme' as OrgId).create('sites', { type: 'Feature', geometry: { type: 'Point', coordinates: [1, 1] }, properties: { org: 'globex', name: 'spoof' } })
  const plain = await store.forOrg('acme' as OrgId).create('sites', point(2, 2))
  t.equal(spoof.feature.properties?.org, 'acme', 'the org is stamped from the caller')
  await store.forOrg('acme' as OrgId).create('sites', point(3, 3)) // the third write compacts
  t.equal(await compacted(f.journal), 0, 'compacted')
  t.equal((await store.forOrg('acme' as OrgId).get('sites', plain.id))?.etag, plain.etag)
  await store.close()
  const reopened = await openStore(f)
  t.teardown(() => reopened.close())
  t.equal((await reopened.forOrg('acme' as OrgId).get('sites', plain.id))?.etag, plain.etag, 'a plain feature keeps its ETag')
  const after = (await reopened.forOrg('acme' as OrgId).get('sites', spoof.id))
  t.equal(after?.json, spoof.json, 'the served JSON is unchanged after compaction and reopen')
  t.equal(after?.etag, spoof.etag, 'so If-Match with the ETag a client holds still works')
  const replaced = await reopened.forOrg('acme' as OrgId).replace('sites', spoof.id, point(1, 1), { ifMatch: spoof.etag }).then(() => 'ok', (e: Problem) => e.status)
  t.equal(replaced, 'ok', 'a conditional replace with the pre-restart ETag succeeds')
})
