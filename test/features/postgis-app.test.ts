// The service with FEATURE_STORE=postgis from its configuration (issue 17): an existing table served through the
// guarded routes, GDAL reading it, 503 + Retry-After and /ready while the database is away, fail-closed start-up,
// and npm run postgis-sql printing and applying the preparation.
import t from 'tap'
import { build, tokenFor } from '../helpers/app.js'
import { hasOgr, ogrinfo } from '../helpers/ogrinfo.js'
import { freePort } from '../helpers/net.js'
import { skipWithoutPostgis, startCluster } from '../helpers/postgis.js'
import { BUILDINGS, loadFixtures, SEED_COLLECTIONS } from '../helpers/postgis-fixtures.js'
import { postgisSql } from '../../scripts/postgis-sql.js'

t.setTimeout(300_000)


t.test('FEATURE_STORE=postgis', { skip: skipWithoutPostgis }, async t => {
  const cluster = await startCluster(t)
  const dir = t.testdir({})
  const { file, url } = await loadFixtures(cluster, dir, [...SEED_COLLECTIONS, BUILDINGS])
  const env = { FEATURE_STORE: 'postgis', DATABASE_URL: url, FEATURE_COLLECTIONS_FILE: file, DATABASE_TIMEOUT_MS: '1000', LOG_LEVEL: 'silent' }

  t.test('an existing table through the guarded routes: CRS84, integer ids, the tenant\'s rows only', async t => {
    const { app, clients } = await build(t, env)
    const acme = { authorization: `Bearer ${await tokenFor(app, clients.acme)}` }
    const globex = { authorization: `Bearer ${await tokenFor(app, clients.globex)}` }
    const items = await app.inject({ url: '/features/collections/buildings/items', headers: acme })
    t.equal(items.statusCode, 200)
    const body = items.json() as { numberMatched: number, features: Array<{ id: string, properties: Record<string, unknown>, geometry: { coordinates: number[] } }> }
    t.equal(body.numberMatched, 2)
    t.same(body.features.map(f => f.id), ['1', '2'])
    t.same(body.features[0]?.properties, { name: 'tower', kind: 'landmark', height: 330, surveyed_on: '2024-05-01', org: 'acme' })
    t.ok(Math.abs((body.features[0]?.geometry.coordinates[0] ?? 0) - 2.2945) < 1e-7, 'EPSG:3857 served as CRS84')
    const one = await app.inject({ url: '/features/collections/buildings/items/1', headers: acme })
    t.equal(one.statusCode, 200)
    t.equal((await app.inject({ url: '/features/collections/buildings/items/1', headers: { ...acme, 'if-none-match': one.headers.etag as string } })).statusCode, 304, 'If-None-Match')
    const foreign = await app.inject({ url: '/features/collections/buildings/items/1', headers: globex })
    const missing = await app.inject({ url: '/features/collections/buildings/items/999', headers: globex })
    t.equal(foreign.statusCode, 404)
    t.equal(foreign.body.replace('1', 'X'), missing.body.replace('999', 'X'), 'another tenant\'s id answers exactly like a missing one')
    const across = await app.inject({ url: '/features/collections/buildings/items?bbox=179,-20,-179,-15', headers: globex })
    t.equal((across.json() as { numberMatched: number }).numberMatched, 2, 'a bbox across the antimeridian')
    const put = await app.inject({ method: 'PUT', url: '/features/collections/buildings/items/2', headers: { ...acme, 'content-type': 'application/geo+json', 'if-match': '"stale"' }, payload: { type: 'Feature', geometry: null, properties: { name: 'x' } } })
    t.equal(put.statusCode, 412)
    const collection = (await app.inject({ url: '/features/collections/buildings', headers: globex })).json() as { extent: { spatial: { bbox: number[][] } } }
    const [w, , e] = collection.extent.spatial.bbox[0] ?? []
    t.ok(w !== undefined && e !== undefined && w < -73 && e > 179, `globex's extent only: ${JSON.stringify(collection.extent.spatial.bbox)}`)
    t.equal((await app.inject({ url: '/ready' })).statusCode, 200)
  })

  t.test('GDAL\'s ogrinfo reads the existing table through the service', { skip: hasOgr ? false : 'ogrinfo not installed (apt-get install gdal-bin)' }, async t => {
    const port = await freePort()
    const { app, clients } = await build(t, { ...env, ISSUER: `http://127.0.0.1:${port}` })
    await app.listen({ host: '127.0.0.1', port })
    const ogr = ogrinfo(t)
    const endpoint = `OAPIF:http://127.0.0.1:${port}/features`
    const acme = await tokenFor(app, clients.acme)
    const globex = await tokenFor(app, clients.globex)
    const summary = await ogr(acme, '-so', endpoint, 'buildings')
    t.match(summary, /Geometry: Point[\s\S]*Feature Count: 2/)
    for (const field of ['name: String', 'kind: String', 'height: Real', 'surveyed_on: Date', 'org: String']) t.match(summary, field, `the field ${field}`)
    t.notMatch(summary, 'internal_note', 'an unpublished column is no field')
    t.match(await ogr(globex, '-so', endpoint, 'buildings'), /Feature Count: 3/, 'globex counts only its own')
    const paged = await ogr(acme, '-oo', 'PAGE_SIZE=1', endpoint, 'buildings')
    t.same([...paged.matchAll(/name \(String\) = ([\w-]+)/g)].map(m => m[1]), ['tower', 'depot'], 'walking next links one feature at a time')
    t.notMatch(paged, /empire|globex/, 'nothing of globex')
    const filtered = await ogr(acme, '-spat', '2', '48', '3', '49', endpoint, 'buildings')
    t.same([...filtered.matchAll(/name \(String\) = ([\w-]+)/g)].map(m => m[1]), ['tower'], 'bbox')
  })

  t.test('the database away: 503 problem+json with Retry-After, /ready says why; back by itself', async t => {
    const { app, clients } = await build(t, env)
    const acme = { authorization: `Bearer ${await tokenFor(app, clients.acme)}` }
    await cluster.stop()
    try {
      for (const url of ['/features/collections/buildings/items', '/features/collections/buildings/items/1', '/features/collections']) {
        const res = await app.inject({ url, headers: acme })
        t.equal(res.statusCode, 503, `${url}: 503`)
        t.match(res.headers['content-type'], /^application\/problem\+json/)
        t.equal(res.headers['retry-after'], '5')
        t.match(res.json(), { status: 503, detail: /feature database cannot be reached/ })
      }
      const write = await app.inject({ method: 'POST', url: '/features/collections/buildings/items', headers: { ...acme, 'content-type': 'application/geo+json' }, payload: { type: 'Feature', geometry: null, properties: {} } })
      t.equal(write.statusCode, 503, 'a write: 503')
      const ready = await app.inject({ url: '/ready' })
      t.equal(ready.statusCode, 503)
      t.equal((ready.json() as { checks: Record<string, string> }).checks.features, 'database-unreachable')
    } finally { await cluster.start() }
    let ready = 0
    for (let i = 0; i < 100 && ready !== 200; i++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      ready = (await app.inject({ url: '/ready' })).statusCode
    }
    t.equal(ready, 200, '/ready recovers once a probe reaches the database')
    t.equal((await app.inject({ url: '/features/collections/buildings/items', headers: acme })).statusCode, 200)
  })

  t.test('start-up fails closed: a superuser in DATABASE_URL, a table without the policy', async t => {
    await t.rejects(build(t, { ...env, DATABASE_URL: cluster.adminUrl }), { code: 'APP_FEATURES_TENANCY_UNSAFE' })
    await cluster.admin('alter table legacy.buildings no force row level security')
    try {
      await t.rejects(build(t, env), { code: 'APP_FEATURES_TENANCY_UNSAFE', message: /legacy\.buildings/ })
    } finally { await cluster.admin('alter table legacy.buildings force row level security') }
  })

  t.test('npm run postgis-sql prints the preparation, and --apply applies it again (idempotent)', async t => {
    const out: string[] = []
    const err: string[] = []
    const io = { out: (l: string) => { out.push(l) }, err: (l: string) => { err.push(l) } }
    t.equal(await postgisSql(['--collections', file, '--role', 'geotoken'], {}, io), 0)
    const sql = out.join('\n')
    for (const expected of ['create role "geotoken" login nosuperuser nobypassrls', 'grant select, insert, update, delete on "legacy"."buildings" to "geotoken"',
      'alter table "legacy"."buildings" force row level security',
      'create policy geotoken_org on "legacy"."buildings" as permissive for all to "geotoken" using ("tenant" = current_setting(\'geotoken.org\', true)) with check ("tenant" = current_setting(\'geotoken.org\', true))',
      'create index if not exists "buildings_the_geom_gist" on "legacy"."buildings" using gist ("the_geom")']) t.ok(sql.includes(expected), expected)
    t.equal(await postgisSql(['--collections', file], {}, io), 0, 'the role defaults to geotoken')
    t.equal(await postgisSql(['--collections', file, '--apply'], { DATABASE_URL: cluster.adminUrl }, io), 0, 'applied again')
    t.match(out.at(-1), /prepared sites \(geo\.sites\), networks \(geo\.networks\), buildings \(legacy\.buildings\) for role geotoken/)
    t.equal(await postgisSql(['--apply', '--collections', file], {}, io), 2, '--apply without DATABASE_URL')
    t.equal(await postgisSql([], {}, io), 2, 'no --collections')
    t.equal(await postgisSql(['--collections', file, '--role', 'x"; drop table y; --'], {}, io), 2, 'a role that is no plain identifier')
    const { app, clients } = await build(t, env)
    const res = await app.inject({ url: '/features/collections/buildings/items', headers: { authorization: `Bearer ${await tokenFor(app, clients.acme)}` } })
    t.equal(res.statusCode, 200, 'the service still starts on the re-prepared tables')
  })
})
