// The PostGIS store on a real cluster (issue 17): tenancy enforced by the database, conditional writes in one
// statement, the existing table in its own shape, fail-closed start-up checks, and 503 while the database is away.
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { performance } from 'node:perf_hooks'
import { join } from 'node:path'
import { PgFeatureStore } from '../../src/features/postgis/pg-store.js'
import type { Problem } from '../../src/shared/errors.js'
import type { Log } from '../../src/shared/log.js'
import type { ItemsQuery, OrgId } from '../../src/features/store.js'
import { skipWithoutPostgis, startCluster, type Cluster } from '../helpers/postgis.js'
import { BUILDINGS, loadFixtures, resetFixtures, ROLE, SEED_COLLECTIONS } from '../helpers/postgis-fixtures.js'

const o = (org: string): OrgId => org as OrgId
const q = (over: Partial<ItemsQuery> = {}): ItemsQuery => ({ properties: {}, limit: 100, offset: 0, ...over })

function quietLog (): { log: Log, warnings: string[] } {
  const warnings: string[] = []
  const log = { info: () => {}, warn: (_o: unknown, m: string) => { warnings.push(m) }, error: () => {} }
  return { log: log as unknown as Log, warnings }
}

t.test('the PostGIS store', { skip: skipWithoutPostgis }, async t => {
  const cluster: Cluster = await startCluster(t)
  const dir = mkdtempSync(join(tmpdir(), 'geotoken-pgstore-'))
  const { file, url } = await loadFixtures(cluster, dir, [...SEED_COLLECTIONS, BUILDINGS])
  const open = async (over: Partial<Parameters<typeof PgFeatureStore.open>[0]> = {}): Promise<PgFeatureStore> => {
    const store = await PgFeatureStore.open({ url, collectionsFile: file, poolMax: 4, timeoutMs: 2000, probeMs: 0, log: quietLog().log, ...over })
    t.teardown(() => store.close())
    return store
  }
  const store = await open()
  /** Until a dropped shared connection has closed: until then it counts against the limit, and reads take the pool. */
  const drained = async (s: PgFeatureStore): Promise<void> => {
    for (let i = 0; i < 200 && s.db.sharedConnections.draining > 0; i++) await new Promise(resolve => setTimeout(resolve, 10))
  }

  t.test('a bare SELECT without any organization filter, on a request\'s connection, sees only that organization\'s rows', async t => {
    const seen = await store.db.withOrg('acme', true, async c => (await c.query<{ org: string, n: string }>('select org, count(*) as n from geo.sites group by org')).rows)
    t.same(seen, [{ org: 'acme', n: '3' }], 'row-level security hides globex\'s two sites')
    const tenants = await store.db.withOrg('globex', true, async c => (await c.query<{ tenant: string }>('select distinct tenant from legacy.buildings')).rows)
    t.same(tenants, [{ tenant: 'globex' }])
    const none = await store.db.withOrg('initech', true, async c => (await c.query('select * from geo.sites')).rowCount)
    t.equal(none, 0, 'an organization without rows sees none')
    await t.rejects(store.db.withOrg('acme', false, async c => await c.query('insert into geo.sites (id, org) values ($1, $2)', ['x1', 'globex'])),
      { code: '42501' }, 'WITH CHECK refuses a row for another organization')
    await t.rejects(store.db.withOrg('acme', false, async c => await c.query('update geo.sites set org = $1', ['globex'])), { code: '42501' }, 'and moving rows to another one')
  })

  t.test('a page is in id order whatever the order the rows are stored in: bbox and plain pages, every offset', async t => {
    // Written in shuffled id order, so the table's own order is not the served one.
    const gids = Array.from({ length: 60 }, (_, i) => 9000 + i)
    const shuffled = [...gids].sort((a, b) => ((a * 7919) % 61) - ((b * 7919) % 61))
    for (const gid of shuffled) {
      await cluster.admin('insert into legacy.buildings (gid, tenant, the_geom, name) values ($1, $2, ST_Transform(ST_SetSRID(ST_MakePoint($3, $4), 4326), 3857), $5)',
        [gid, 'initech', 10 + (gid % 7) / 10, 20 + (gid % 5) / 10, `b${gid}`])
    }
    t.teardown(async () => { await cluster.admin('delete from legacy.buildings where gid >= 9000') })
    const ids = gids.map(String)
    for (const offset of [0, 7, 30, 55]) {
      for (const bbox of [undefined, [9, 19, 11, 21] as [number, number, number, number]]) {
        const page = await store.list(o('initech'), 'buildings', q({ limit: 20, offset, ...(bbox === undefined ? {} : { bbox }) }))
        t.same(page.items.map(f => f.id), ids.slice(offset, offset + 20), `offset ${offset}${bbox === undefined ? '' : ', bbox'}: in order`)
        t.equal(page.numberMatched, 60)
      }
    }
  })

  t.test('the organization is set for the transaction only: the pooled connection forgets it', async t => {
    const single = await open({ poolMax: 1 })
    const pids = new Set<number>()
    await single.db.withOrg('acme', true, async c => { pids.add((await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0) })
    const client = await single.db.pool.connect()
    try {
      pids.add((await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0)
      t.equal(pids.size, 1, 'the same connection')
      t.equal((await client.query<{ v: string | null }>('select current_setting(\'geotoken.org\', true) as v')).rows[0]?.v ?? '', '', 'no organization after the commit')
      t.equal((await client.query('select * from geo.sites')).rowCount, 0, 'and no rows without one')
    } finally { client.release() }
  })

  t.test('a read of one statement (setting and statement in one implicit transaction): that org only, read only, forgotten after', async t => {
    const single = await open({ poolMax: 1 })
    const bare = { text: 'select pg_backend_pid() as pid, current_setting(\'geotoken.org\', true) as setting, (select coalesce(string_agg(distinct org, \',\'), \'\') from geo.sites) as orgs', values: [] as unknown[] }
    const one = async (org: string, statement = bare): Promise<{ pid: number, setting: string, orgs: string }> =>
      (await single.db.read(org, [statement]))[0]?.rows[0] as { pid: number, setting: string, orgs: string }
    const pids = new Set<number>()
    for (const org of ['acme', 'globex', 'initech', 'acme']) {
      const row = await one(org)
      pids.add(row.pid)
      t.same([row.setting, row.orgs], [org, org === 'initech' ? '' : org], `${org}: a bare SELECT sees its own rows only, with its setting`)
    }
    t.equal(pids.size, 1, 'all on the one pooled connection')
    const client = await single.db.pool.connect()
    try {
      t.equal((await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid, [...pids][0], 'that connection')
      t.equal((await client.query<{ v: string | null }>('select current_setting(\'geotoken.org\', true) as v')).rows[0]?.v ?? '', '', 'has no organization after the reads')
      t.equal((await client.query('select * from geo.sites')).rowCount, 0, 'and no rows without one')
    } finally { client.release() }
    await t.rejects(single.db.read('acme', [{ text: 'insert into geo.sites (id, org) values ($1, $2) returning id', values: ['ro1', 'acme'] }]), { code: '25006' }, 'it is read only')
    const divide = { text: 'select 1 / $1::int as x', values: [1] as unknown[] }
    await one('acme', divide)
    const before = (await one('acme')).pid
    await t.rejects(one('acme', { ...divide, values: [0] }), { code: '22012' }, 'a failing statement rejects with the database\'s error')
    t.equal((await one('globex')).pid, before, 'and the connection is kept (the statement was parsed before)')
    await t.rejects(one('ac\u0000me'), 'a setting that fails fails the read')
    t.same((await one('globex')).orgs, 'globex', 'and the next read works')
  })

  t.test('one-statement reads of many requests share a connection (pipelined): each sees its own organization only', async t => {
    const two = await open({ poolMax: 2 }) // one shared connection, one pooled
    const bare = { text: 'select pg_backend_pid() as pid, current_setting(\'geotoken.org\', true) as setting, (select coalesce(string_agg(distinct org, \',\'), \'\') from geo.sites) as orgs', values: [] as unknown[] }
    const divide = { text: 'select 1 / $1::int as x', values: [0] as unknown[] }
    const first = (await two.db.read('acme', [bare]))[0]?.rows[0] as { pid: number }
    await t.rejects(two.db.read('acme', [divide]), { code: '22012' }, 'a statement error (parsed in this read: the connection is replaced)')
    t.same(two.db.sharedConnections, { open: 0, draining: 1 }, 'dropped')
    await drained(two)
    t.same((await two.db.read('acme', [{ ...divide, values: [1] }]))[0]?.rows, [{ x: 1 }], 'parsed on the new connection')
    const shared = (await two.db.read('acme', [bare]))[0]?.rows[0] as { pid: number }
    t.not(shared.pid, first.pid, 'a read that failed after a Parse dropped the shared connection; the next read opened another')
    const orgs = ['acme', 'globex', 'initech']
    // Eight at a time (the most one shared connection takes): all sent in one turn of the event loop.
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.allSettled(Array.from({ length: 8 }, async (_, i) => {
        const org = orgs[(round + i) % 3] as string
        if (i === 3) return await two.db.read(org, [divide])
        return { org, row: (await two.db.read(org, [bare]))[0]?.rows[0] as { pid: number, setting: string, orgs: string } }
      }))
      answers.forEach((a, i) => {
        if (i === 3) { t.match(a, { status: 'rejected', reason: { code: '22012' } }, `round ${round}: the failing read fails alone`); return }
        const { org, row } = (a as PromiseFulfilledResult<{ org: string, row: { pid: number, setting: string, orgs: string } }>).value
        t.same([row.pid, row.setting, row.orgs], [shared.pid, org, org === 'initech' ? '' : org], `round ${round}, read ${i} (${org}): on the shared connection, its setting, its rows`)
      })
    }
    const connections = await cluster.admin('select count(*)::int as n from pg_stat_activity where usename = $1 and application_name = $2', [ROLE, 'geotoken'])
    t.ok((connections.rows[0] as { n: number }).n >= 1, 'the connections are there to count')
    const client = await two.db.pool.connect()
    try {
      t.not((await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid, shared.pid, 'the pooled connection is another one')
    } finally { client.release() }
  })

  t.test('a pipelined read that fails before its Parse: the read behind it that needed that statement answers 503, the next read works', async t => {
    const two = await open({ poolMax: 2 })
    const bare = { text: 'select pg_backend_pid() as pid', values: [] as unknown[] }
    const before = (await two.db.read('acme', [bare]))[0]?.rows[0] as { pid: number }
    const unparsed = { text: 'select $1::int + 1 as y', values: [1] as unknown[] }
    // The first read's setting fails (a NUL byte), so PostgreSQL skips its Parse; the second only binds the statement.
    const [failed, behind] = await Promise.allSettled([two.db.read('ac\u0000me', [unparsed]), two.db.read('acme', [unparsed])])
    t.equal(failed.status, 'rejected', 'the read whose setting failed fails')
    t.match(behind, { status: 'rejected', reason: { code: 'APP_FEATURES_DATABASE_UNAVAILABLE', statusCode: 503 } }, 'the one behind it: 503, to retry')
    t.equal(two.status(), 'ok', 'which is no sign of the database being away')
    await drained(two)
    t.same((await two.db.read('acme', [unparsed]))[0]?.rows, [{ y: 2 }], 'a retry parses again')
    t.not(((await two.db.read('acme', [bare]))[0]?.rows[0] as { pid: number }).pid, before.pid, 'on a new shared connection')
  })

  t.test('a shared connection does not take reads behind a slow one: they go to a pooled connection', async t => {
    const two = await open({ poolMax: 2 })
    const pid = { text: 'select pg_backend_pid() as pid', values: [] as unknown[] }
    const shared = ((await two.db.read('acme', [pid]))[0]?.rows[0] as { pid: number }).pid
    let slowDone = false
    const slow = two.db.read('acme', [{ text: 'select pg_sleep(1), pg_backend_pid() as pid', values: [] }]).finally(() => { slowDone = true })
    await new Promise(resolve => setTimeout(resolve, 50))
    const other = ((await two.db.read('acme', [pid]))[0]?.rows[0] as { pid: number }).pid
    t.not(other, shared, 'another connection')
    t.notOk(slowDone, 'answered while the slow read was still under way')
    t.equal(((await slow)[0]?.rows[0] as { pid: number }).pid, shared, 'the slow read ran on the shared connection')
    const extent = await two.db.read('acme', [pid], { exclusive: true })
    t.not((extent[0]?.rows[0] as { pid: number }).pid, shared, 'an exclusive read takes a pooled connection')
  })

  t.test('a shared read\'s time limit counts from when it reaches the head of its connection, not from when it was queued', async t => {
    const two = await open({ poolMax: 2, timeoutMs: 1000 }) // statement_timeout 1 s; an answer due within 2 s
    const pid = { text: 'select pg_backend_pid() as pid', values: [] as unknown[] }
    const shared = ((await two.db.read('acme', [pid]))[0]?.rows[0] as { pid: number }).pid
    const sleep = { text: 'select pg_sleep(0.4), pg_backend_pid() as pid', values: [] as unknown[] }
    const t0 = performance.now()
    const six = await Promise.all(Array.from({ length: 6 }, async () => ((await two.db.read('acme', [sleep]))[0]?.rows[0] as { pid: number }).pid))
    t.same(six, Array(6).fill(shared), 'six reads of 0.4 s, one after the other on the shared connection')
    t.ok(performance.now() - t0 > 2000, 'the last was answered after 2 s, and was not cut off')
  })

  t.test('a shared connection whose database stops answering is closed: its reads answer 503, the next read opens another', { skip: process.getuid?.() === 0 ? false : 'needs root to stop the PostgreSQL backend' }, async t => {
    const two = await open({ poolMax: 2, timeoutMs: 300 })
    const pid = { text: 'select pg_backend_pid() as pid', values: [] as unknown[] }
    const shared = ((await two.db.read('acme', [pid]))[0]?.rows[0] as { pid: number }).pid
    process.kill(shared, 'SIGSTOP')
    try {
      const t0 = performance.now()
      await t.rejects(two.db.read('acme', [pid]), { code: 'APP_FEATURES_DATABASE_UNAVAILABLE', statusCode: 503 })
      const waited = performance.now() - t0
      t.ok(waited > 1200 && waited < 5000, `503 after the statement timeout and a second more (${Math.round(waited)} ms)`)
    } finally { process.kill(shared, 'SIGCONT') }
    await drained(two)
    t.not(((await two.db.read('acme', [pid]))[0]?.rows[0] as { pid: number }).pid, shared, 'a new shared connection answers')
  })

  t.test('reads: bbox, datetime, equality, paging in a stable order, exact counts, extents of the organization', async t => {
    const page = await store.list(o('acme'), 'sites', q({ limit: 2 }))
    t.equal(page.numberMatched, 3)
    t.same(page.items.map(f => f.id), ['a1', 'a2'], 'ordered by id')
    t.same((await store.list(o('acme'), 'sites', q({ limit: 2, offset: 2 }))).items.map(f => f.id), ['a3'])
    const past = await store.list(o('acme'), 'sites', q({ offset: 9 }))
    t.same({ items: past.items, numberMatched: past.numberMatched, numberReturned: past.numberReturned, itemsJson: past.itemsJson }, { items: [], numberMatched: 3, numberReturned: 0, itemsJson: '' }, 'past the end: the count still')
    t.same((await store.list(o('acme'), 'sites', q({ bbox: [5, 47, 7, 49] }))).items.map(f => f.id), ['a3'], 'a3, not globex\'s g2 beside it')
    t.same((await store.list(o('acme'), 'sites', q({ properties: { kind: 'depot' } }))).items.map(f => f.id), ['a2'])
    t.same((await store.list(o('acme'), 'sites', q({ datetime: [Date.parse('2025-05-01T00:00:00Z'), null] }))).items.map(f => f.id), ['a2', 'a3'])
    const a1 = await store.get(o('acme'), 'sites', 'a1')
    t.same(a1?.feature, { type: 'Feature', id: 'a1', geometry: { type: 'Point', coordinates: [2.35, 48.85] }, properties: { name: 'a1', kind: 'office', observed_at: '2025-01-01T00:00:00Z', org: 'acme' } })
    t.equal(Object.keys(a1?.feature.properties ?? {}).at(-1), 'org', 'properties as written, org stamped last')
    t.equal(await store.get(o('globex'), 'sites', 'a1'), undefined, 'another organization\'s id is simply not there')
    const extent = await store.extent(o('acme'), 'sites')
    t.same(extent, { bbox: [2.35, 48, 6, 50.85], interval: ['2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'] })
    t.same(await store.extent(o('initech'), 'sites'), { bbox: null, interval: [null, null] })
  })

  t.test('the existing table: integer ids, a tenant column, EPSG:3857 served as CRS84, extra columns unpublished', async t => {
    const acme = await store.list(o('acme'), 'buildings', q())
    t.same(acme.items.map(f => f.id), ['1', '2'])
    const tower = acme.items[0]?.feature
    t.same(tower?.properties, { org: 'acme', name: 'tower', kind: 'landmark', height: 330.0, surveyed_on: '2024-05-01' })
    const [lon, lat] = (tower?.geometry as unknown as { coordinates: [number, number] }).coordinates
    t.ok(Math.abs(lon - 2.2945) < 1e-7 && Math.abs(lat - 48.8584) < 1e-7, `CRS84 coordinates (${lon}, ${lat})`)
    t.notMatch(acme.items[0]?.json, 'internal_note', 'a column not listed is not served')
    t.same((await store.list(o('acme'), 'buildings', q({ bbox: [2, 48, 3, 49] }))).items.map(f => f.id), ['1'])
    t.same((await store.list(o('globex'), 'buildings', q({ bbox: [179, -20, -179, -15] }))).items.map(f => f.feature.properties?.name), ['east-of-180', 'west-of-180'], 'a box across the antimeridian: both sides')
    t.equal((await store.list(o('acme'), 'buildings', q({ bbox: [179, -20, -179, -15] }))).numberMatched, 0)
    t.equal((await store.list(o('acme'), 'buildings', q({ bbox: [-180, -90, 180, 90] }))).numberMatched, 2, 'the whole world (clamped to Mercator\'s range)')
    t.same((await store.list(o('globex'), 'buildings', q({ properties: { kind: 'hut' } }))).numberMatched, 2, 'equality on a column')
    t.same((await store.list(o('acme'), 'buildings', q({ datetime: [null, Date.parse('2024-12-31T23:59:59Z')] }))).items.map(f => f.id), ['1'], 'datetime on a date column')
    const extent = await store.extent(o('acme'), 'buildings')
    t.ok(extent.bbox !== null && Math.abs((extent.bbox[0]) - 2.2945) < 1e-7 && Math.abs((extent.bbox[3]) - 50.8503) < 1e-7, `extent ${JSON.stringify(extent.bbox)}`)
    t.equal(await store.get(o('acme'), 'buildings', 'abc'), undefined, 'a non-integer id is no id')
    t.equal(await store.get(o('acme'), 'buildings', '99999999999999999999'), undefined, 'nor one out of range')
    t.equal(await store.get(o('acme'), 'buildings', '3'), undefined, 'globex\'s building 3 is absent for acme')

    const created = await store.create(o('acme'), 'buildings', { type: 'Feature', geometry: { type: 'Point', coordinates: [2.3376, 48.8606] }, properties: { name: 'louvre', kind: 'museum', height: 21.6, org: 'globex' } })
    t.equal(created.id, '6', 'the serial chose the id')
    t.equal(created.feature.properties?.org, 'acme', 'the organization is stamped from the caller, not the body')
    t.equal((await cluster.admin('select tenant from legacy.buildings where gid = 6')).rows[0]?.tenant, 'acme')
    await t.rejects(store.create(o('acme'), 'buildings', { type: 'Feature', geometry: null, properties: { colour: 'red' } }), { name: 'Problem', status: 400, param: '/properties/colour' }, 'a property that is no column is refused')
    await t.rejects(store.create(o('acme'), 'buildings', { type: 'Feature', geometry: { type: 'LineString', coordinates: [[0, 0], [1, 1]] }, properties: {} }), { name: 'Problem', status: 400 }, 'a geometry the column\'s type refuses: 400')
    await t.rejects(store.create(o('acme'), 'buildings', { type: 'Feature', geometry: null, properties: { height: 'tall' } }), { name: 'Problem', status: 400 }, 'a value the column\'s type refuses: 400')
    for (const quoted of ['Connection terminated', 'timeout expired', 'Query read timeout']) {
      await t.rejects(store.create(o('acme'), 'buildings', { type: 'Feature', geometry: null, properties: { height: quoted } }), { name: 'Problem', status: 400 }, `a refused value that reads like a connection error ("${quoted}"): 400, not 503`)
    }
    t.equal(store.status(), 'ok', 'and the database is not marked away')
    await t.rejects(store.replace(o('acme'), 'buildings', '3', { type: 'Feature', geometry: null, properties: {} }), { name: 'Problem', status: 404 }, 'replacing globex\'s id answers like a missing one')
    await t.rejects(store.delete(o('acme'), 'buildings', '3'), { name: 'Problem', status: 404 })
    t.equal((await cluster.admin('select count(*)::int as n from legacy.buildings where gid = 3')).rows[0]?.n, 1, 'still there')
    await resetFixtures(cluster)
  })

  t.test('If-Match is checked in the write itself: of concurrent writes with one ETag, exactly one succeeds', async t => {
    const feature = (n: number | string) => ({ type: 'Feature' as const, geometry: null, properties: { name: `n${n}` } })
    for (let round = 0; round < 10; round++) {
      const etag = (await store.get(o('acme'), 'sites', 'a1'))?.etag as string
      const results = await Promise.allSettled([1, 2, 3].map(async n => await store.replace(o('acme'), 'sites', 'a1', feature(`${round}-${n}`), etag)))
      t.equal(results.filter(r => r.status === 'fulfilled').length, 1, `round ${round}: one write wins`)
      for (const r of results) if (r.status === 'rejected') t.equal((r.reason as Problem).status, 412, 'the others: 412')
    }
    const current = await store.get(o('acme'), 'sites', 'a1')
    const replaced = await store.replace(o('acme'), 'sites', 'a1', feature(9), current?.etag)
    t.equal(replaced.etag, (await store.get(o('acme'), 'sites', 'a1'))?.etag, 'the ETag the database compares is the one served (same hash)')
    await t.rejects(store.replace(o('acme'), 'sites', 'a1', feature(10), current?.etag), { name: 'Problem', status: 412 }, 'a stale ETag: 412')
    await t.rejects(store.replace(o('acme'), 'sites', 'a1', feature(10), `W/${replaced.etag}`), { name: 'Problem', status: 412 }, 'a weak ETag never matches')
    await t.rejects(store.delete(o('acme'), 'sites', 'a1', current?.etag), { name: 'Problem', status: 412 })
    const patched = await store.patch(o('acme'), 'sites', 'a1', { properties: { kind: 'hq' } }, `"x", ${replaced.etag}`)
    t.same(patched.feature.properties, { org: 'acme', name: 'n9', kind: 'hq' }, 'merge-patch on the locked row')
    await Promise.all([1, 2, 3, 4].map(async n => await store.patch(o('acme'), 'sites', 'a1', { properties: { [`k${n}`]: n } })))
    // The state after all of them (the last promise of the array need not be the last write).
    const after = await store.get(o('acme'), 'sites', 'a1')
    t.same(Object.keys(after?.feature.properties ?? {}).filter(k => k.startsWith('k') && k !== 'kind').sort(), ['k1', 'k2', 'k3', 'k4'], 'concurrent patches without If-Match: none lost')
    await store.delete(o('acme'), 'sites', 'a1', '*')
    t.equal(await store.get(o('acme'), 'sites', 'a1'), undefined)
    await t.rejects(store.delete(o('acme'), 'sites', 'a1'), { name: 'Problem', status: 404 })
    await resetFixtures(cluster)
  })

  t.test('start-up fails closed, naming the collection, table and column', async t => {
    const refuse = async (what: string, setup: string | null, expected: { code: string, message: RegExp }, undo: string | null, over: Partial<Parameters<typeof PgFeatureStore.open>[0]> = {}): Promise<void> => {
      if (setup !== null) await cluster.admin(setup)
      try {
        await t.rejects(PgFeatureStore.open({ url, collectionsFile: file, poolMax: 2, timeoutMs: 2000, probeMs: 0, log: quietLog().log, ...over }), expected, what)
      } finally { if (undo !== null) await cluster.admin(undo) }
    }
    await refuse('as a superuser', null, { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /superuser ignores row-level security/ }, null, { url: cluster.adminUrl })
    await refuse('RLS not forced', 'alter table legacy.buildings no force row level security', { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /legacy\.buildings.*FORCE ROW LEVEL SECURITY/ }, 'alter table legacy.buildings force row level security')
    await refuse('RLS disabled', 'alter table geo.sites disable row level security', { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /collection sites, table geo\.sites.*not enabled/ }, 'alter table geo.sites enable row level security')
    await refuse('no policy', 'alter policy geotoken_org on geo.sites rename to gone; drop policy gone on geo.sites', { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /geo\.sites: no policy/ },
      'create policy geotoken_org on geo.sites for all to geotoken using (org = current_setting(\'geotoken.org\', true)) with check (org = current_setting(\'geotoken.org\', true))')
    await refuse('a policy without WITH CHECK', 'drop policy geotoken_org on geo.sites; create policy geotoken_org on geo.sites for all to geotoken using (org = current_setting(\'geotoken.org\', true))',
      { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /no policy/ }, 'drop policy geotoken_org on geo.sites; create policy geotoken_org on geo.sites for all to geotoken using (org = current_setting(\'geotoken.org\', true)) with check (org = current_setting(\'geotoken.org\', true))')
    await refuse('a second, wider permissive policy', 'create policy everyone on geo.networks for select using (true)', { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /policy everyone is permissive/ }, 'drop policy everyone on geo.networks')
    await refuse('a policy on another column', 'drop policy geotoken_org on geo.sites; create policy geotoken_org on geo.sites for all to geotoken using (id = current_setting(\'geotoken.org\', true)) with check (id = current_setting(\'geotoken.org\', true))',
      { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /no policy/ }, 'drop policy geotoken_org on geo.sites; create policy geotoken_org on geo.sites for all to geotoken using (org = current_setting(\'geotoken.org\', true)) with check (org = current_setting(\'geotoken.org\', true))')
    await refuse('BYPASSRLS', `alter role ${ROLE} bypassrls`, { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /BYPASSRLS/ }, `alter role ${ROLE} nobypassrls`)
    await refuse('a role that owns a table', `create table public.mine (x int); alter table public.mine owner to ${ROLE}`, { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /owns mine/ }, 'drop table public.mine')

    const bad = (over: Record<string, unknown>): string => {
      const path = join(dir, 'bad.json')
      writeFileSync(path, JSON.stringify({ collections: [{ ...BUILDINGS, ...over }] }))
      return path
    }
    await refuse('a column that does not exist', null, { code: 'APP_FEATURES_COLLECTIONS_INVALID', message: /collection buildings, table legacy\.buildings, column colour \(properties\): no such column/ }, null, { collectionsFile: bad({ properties: ['name', 'kind', 'surveyed_on', 'colour'] }) })
    await refuse('a table that does not exist', null, { code: 'APP_FEATURES_COLLECTIONS_INVALID', message: /collection buildings, table legacy\.nothing: no such table/ }, null, { collectionsFile: bad({ table: 'legacy.nothing' }) })
    await refuse('a geometry column that is not geometry', null, { code: 'APP_FEATURES_COLLECTIONS_INVALID', message: /column name \(geometryColumn\): type text cannot be used/ }, null, { collectionsFile: bad({ geometryColumn: 'name', properties: ['kind', 'surveyed_on'] }) })
    await refuse('an unqualified table', null, { code: 'APP_FEATURES_COLLECTIONS_INVALID', message: /\/collections\/0\/table/ }, null, { collectionsFile: bad({ table: 'buildings' }) })
    await refuse('a queryable that is nothing', null, { code: 'APP_FEATURES_COLLECTIONS_INVALID', message: /queryable colour is not a column/ }, null, { collectionsFile: bad({ queryables: ['colour'] }) })

    const { log, warnings } = quietLog()
    await cluster.admin('drop index legacy.buildings_the_geom_gist')
    const unindexed = await open({ log })
    t.match(warnings, [/collection buildings, table legacy\.buildings, column the_geom: no spatial \(GiST\) index/], 'a missing spatial index is reported')
    t.equal(unindexed.collections().length, 3, 'and the collection still served')
    await cluster.admin('create index buildings_the_geom_gist on legacy.buildings using gist (the_geom)')

    const notLeakproof = quietLog()
    await cluster.admin('alter function geometry_overlaps(geometry, geometry) not leakproof')
    try {
      await open({ log: notLeakproof.log })
      t.match(notLeakproof.warnings, [/&& operator \(geometry_overlaps\) is not LEAKPROOF: under row-level security no bbox query can use a spatial index/], 'a && the planner cannot use under RLS is reported')
      const plan = await cluster.admin(`begin; set local role ${ROLE}; select set_config('geotoken.org', 'acme', true);
        explain select * from legacy.buildings where the_geom && ST_MakeEnvelope(0, 0, 1, 1, 3857); commit`) as unknown as Array<{ rows: Array<{ 'QUERY PLAN': string }> }>
      const text = plan[3]?.rows.map(r => r['QUERY PLAN']).join('\n') ?? ''
      t.match(text, /Scan on buildings/, 'the plan of a bbox query as the service\'s role')
      t.notMatch(text, /Index Cond: \(the_geom &&/, 'and indeed: no index condition on the box')
    } finally { await cluster.admin('alter function geometry_overlaps(geometry, geometry) leakproof') }
  })

  t.test('while the database is away: a typed 503 error, status database-unreachable; then back by itself', async t => {
    const own = await open({ timeoutMs: 1000 })
    t.equal(await own.db.probe(), 'ok')
    t.ok(await own.get(o('acme'), 'sites', 'a1'), 'a read on the shared connection')
    await cluster.stop()
    try {
      await t.rejects(own.list(o('acme'), 'sites', q()), { code: 'APP_FEATURES_DATABASE_UNAVAILABLE', statusCode: 503 })
      await t.rejects(own.get(o('acme'), 'sites', 'a1'), { code: 'APP_FEATURES_DATABASE_UNAVAILABLE', statusCode: 503 }, 'and one that would take a shared connection')
      t.equal(own.status(), 'database-unreachable')
      await t.rejects(own.create(o('acme'), 'sites', { type: 'Feature', geometry: null, properties: {} }), { code: 'APP_FEATURES_DATABASE_UNAVAILABLE' })
    } finally { await cluster.start() }
    t.equal(await own.db.probe(), 'ok', 'a probe finds it again')
    t.equal((await own.list(o('acme'), 'sites', q())).numberMatched, 3)
    t.ok(await own.get(o('acme'), 'sites', 'a1'), 'a new shared connection')
  })
})
