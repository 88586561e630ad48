// Property test: random organizations, features and requests; nothing of another organization ever shows.
import t from 'tap'
import fc from 'fast-check'
import { build, tokensForOrgs } from '../helpers/app.js'
import type { OrgId } from '../../src/features/store.js'

t.test('a store without a seed starts with no collections', async t => {
  const { app } = await build(t, { LOG_LEVEL: 'warn', SEED_FILE: '' })
  t.same(app.features.collections(), [], 'an empty store has no collections without a seed')
})

t.test('random organizations, features and queries stay isolated', async t => {
  const { app, dataDir } = await build(t, { LOG_LEVEL: 'warn' })
  const orgs = ['acme', 'globex', 'initech', 'umbrella', 'hooli']
  const tokens = await tokensForOrgs(app, dataDir, orgs)

  // Ownership as the test knows it: every id posted, by org, with its point.
  const owned = new Map<string, { org: string, lon: number, lat: number, kind: string }>()
  for (const [id, org] of [['a1', 'acme'], ['a2', 'acme'], ['a3', 'acme'], ['g1', 'globex'], ['g2', 'globex']] as const) {
    const f = (await app.features.forOrg(org as OrgId).get('sites', id))
    const [lon, lat] = (f?.feature.geometry as unknown as { coordinates: [number, number] }).coordinates
    owned.set(id, { org, lon, lat, kind: String(f?.feature.properties?.kind) })
  }
  const kinds = ['depot', 'office', 'plant', 'yard']
  const rng = fc.sample(fc.tuple(fc.constantFrom(...orgs), fc.double({ min: -20, max: 20, noNaN: true }), fc.double({ min: -20, max: 20, noNaN: true }), fc.constantFrom(...kinds)), { numRuns: 150, seed: 4242 })
  for (const [org, lon, lat, kind] of rng) {
    const res = await app.inject({
      method: 'POST', url: '/features/collections/sites/items',
      headers: { authorization: `Bearer ${tokens[org]}`, 'content-type': 'application/geo+json' },
      // A body claiming another org must not move the feature there.
      payload: { type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { kind, org: 'acme' } }
    })
    t.equal(res.statusCode, 201)
    owned.set(res.json().id as string, { org, lon, lat, kind })
  }
  const idsOf = (org: string) => [...owned].filter(([, v]) => v.org === org).map(([id]) => id)
  const allIds = [...owned.keys()]

  const query = fc.record({
    org: fc.constantFrom(...orgs),
    bbox: fc.option(fc.tuple(fc.double({ min: -25, max: 5, noNaN: true }), fc.double({ min: -25, max: 5, noNaN: true }), fc.double({ min: 0, max: 25, noNaN: true }), fc.double({ min: 0, max: 25, noNaN: true }))),
    kind: fc.option(fc.constantFrom(...kinds)),
    limit: fc.integer({ min: 1, max: 50 }),
    offset: fc.integer({ min: 0, max: 60 }),
    guess: fc.constantFrom(...allIds)
  })
  await fc.assert(fc.asyncProperty(query, async q => {
    const auth = { authorization: `Bearer ${tokens[q.org]}` }
    const params = new URLSearchParams({ limit: String(q.limit), offset: String(q.offset) })
    if (q.bbox !== null) params.set('bbox', q.bbox.map(n => n.toFixed(4)).join(','))
    if (q.kind !== null) params.set('kind', q.kind)
    const res = await app.inject({ url: `/features/collections/sites/items?${params}`, headers: auth })
    const body = res.json() as { features: Array<{ id: string, properties: { org: string } }>, numberMatched: number }
    const [w, s, e, n] = q.bbox === null ? [-180, -90, 180, 90] : q.bbox.map(x => Number(x.toFixed(4))) as [number, number, number, number]
    if (s > n) return res.statusCode === 400
    if (res.statusCode !== 200) return false
    const expected = idsOf(q.org).filter(id => {
      const f = owned.get(id) as { lon: number, lat: number, kind: string }
      return f.lon >= w && f.lon <= e && f.lat >= s && f.lat <= n && (q.kind === null || f.kind === q.kind)
    })
    if (body.numberMatched !== expected.length) return false
    if (body.features.some(f => owned.get(f.id)?.org !== q.org || f.properties.org !== q.org)) return false
    // No other organization's id or name anywhere in the body.
    const foreign = allIds.filter(id => owned.get(id)?.org !== q.org)
    if (foreign.some(id => res.body.includes(`"${id}"`))) return false
    if (orgs.some(o => o !== q.org && res.body.includes(`"${o}"`))) return false

    // Guessing an id: a foreign feature answers exactly like a missing one.
    const mine = owned.get(q.guess)?.org === q.org
    const got = await app.inject({ url: `/features/collections/sites/items/${q.guess}`, headers: auth })
    const missing = await app.inject({ url: '/features/collections/sites/items/no-such-id', headers: auth })
    if (mine) return got.statusCode === 200
    if (got.statusCode !== 404 || got.body.replace(q.guess, 'X') !== missing.body.replace('no-such-id', 'X')) return false
    const put = await app.inject({ method: 'PUT', url: `/features/collections/sites/items/${q.guess}`, headers: { ...auth, 'content-type': 'application/geo+json' }, payload: { type: 'Feature', geometry: null, properties: {} } })
    const del = await app.inject({ method: 'DELETE', url: `/features/collections/sites/items/${q.guess}`, headers: auth })
    return put.statusCode === 404 && del.statusCode === 404
  }), { numRuns: 120, seed: 7 })

  // The foreign writes above changed nothing.
  for (const [id, f] of owned) t.ok((await app.features.forOrg(f.org as OrgId).get('sites', id)), `${id} still belongs to ${f.org}`)

  for (const org of orgs) {
    const res = await app.inject({ url: '/features/collections/sites', headers: { authorization: `Bearer ${tokens[org]}` } })
    const [w, s, e, n] = (res.json().extent.spatial.bbox[0] ?? []) as number[]
    const mine = idsOf(org).map(id => owned.get(id) as { lon: number, lat: number })
    t.equal(w, Math.min(...mine.map(f => f.lon)), `${org}: extent west is its own`)
    t.equal(n, Math.max(...mine.map(f => f.lat)), `${org}: extent north is its own`)
    t.ok(s !== undefined && e !== undefined)
  }
})
