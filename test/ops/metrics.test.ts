// /metrics: protected by METRICS_TOKEN, and every instrument moves when the matching requests happen.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { build, decodePart, testRing, tokenFor } from '../helpers/app.js'
import { rs256 } from '../helpers/forge.js'
import { newRingKey } from '../../src/keys/generate.js'

const METRICS_TOKEN = 'metrics-token-0123456789abcdef'

interface Sample { name: string, labels: Record<string, string>, value: number }

function parse (text: string): Sample[] {
  return text.split('\n').filter(l => l !== '' && !l.startsWith('#')).map(line => {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`unparsable exposition line: ${line}`)
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(l => [l[1], l[2]]))
    return { name: m[1] as string, labels, value: Number(m[3]) }
  })
}

async function scrape (app: FastifyInstance): Promise<Sample[]> {
  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  if (res.statusCode !== 200) throw new Error(`scrape failed: ${res.statusCode}`)
  return parse(res.body)
}

/** The value of `name` whose labels include `labels` (0 when absent: a counter not yet incremented). */
function value (samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  return found.reduce((sum, s) => sum + s.value, 0)
}

t.test('without METRICS_TOKEN there is no /metrics: 404 problem+json', async t => {
  const { app } = await build(t)
  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  t.equal(res.statusCode, 404)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
})

t.test('/metrics needs the exact bearer token', async t => {
  const { app } = await build(t, { METRICS_TOKEN })
  for (const authorization of [undefined, `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(0, -1)}`, `Basic ${METRICS_TOKEN}`, 'Bearer ']) {
    const res = await app.inject({ url: '/metrics', headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401, `refused: ${String(authorization).slice(0, 12)}…`)
    t.match(res.headers['www-authenticate'], /^Bearer realm="metrics"/)
  }
  const ok = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(ok.body, /# TYPE geotoken_http_request_duration_seconds histogram/)
  t.match(ok.body, /process_cpu_user_seconds_total/, 'process metrics too')
})

t.test('tokens issued count by grant and organization', async t => {
  const { app, clients } = await build(t, { METRICS_TOKEN })
  const before = await scrape(app)
  await tokenFor(app, clients.acme)
  await tokenFor(app, clients.acme)
  await tokenFor(app, clients.globex)
  const after = await scrape(app)
  const issued = (s: Sample[], org: string): number => value(s, 'geotoken_tokens_issued_total', { grant_type: 'client_credentials', org })
  t.equal(issued(after, 'acme') - issued(before, 'acme'), 2)
  t.equal(issued(after, 'globex') - issued(before, 'globex'), 1)
})

t.test('the request histogram is labelled with the route pattern and status, never the raw URL', async t => {
  const { app, clients } = await build(t, { METRICS_TOKEN })
  const auth = { authorization: `Bearer ${await tokenFor(app, clients.acme)}` }
  const route = '/features/collections/:collectionId/items/:featureId'
  const before = await scrape(app)
  t.equal((await app.inject({ url: '/features/collections/sites/items/a1', headers: auth })).statusCode, 200)
  t.equal((await app.inject({ url: '/features/collections/sites/items/no-such-id', headers: auth })).statusCode, 404)
  const after = await scrape(app)
  const count = (s: Sample[], status: string): number => value(s, 'geotoken_http_request_duration_seconds_count', { route, method: 'GET', status_code: status })
  t.equal(count(after, '200') - count(before, '200'), 1)
  t.equal(count(after, '404') - count(before, '404'), 1)
  t.notOk(after.some(s => Object.values(s.labels).some(v => v.includes('no-such-id') || v.includes('/items/a1'))), 'no label carries a concrete URL')
})

t.test('feature queries and writes count by collection', async t => {
  const { app, clients } = await build(t, { METRICS_TOKEN })
  const auth = { authorization: `Bearer ${await tokenFor(app, clients.acme)}` }
  const before = await scrape(app)
  await app.inject({ url: '/features/collections/sites/items?limit=2', headers: auth })
  await app.inject({ url: '/features/collections/networks/items', headers: auth })
  await app.inject({ url: '/features/collections/nope/items', headers: auth }) // 404: not counted, no label for it
  const created = await app.inject({
    method: 'POST', url: '/features/collections/sites/items', headers: { ...auth, 'content-type': 'application/geo+json' },
    payload: { type: 'Feature', geometry: { type: 'Point', coordinates: [1, 2] }, properties: { kind: 'depot' } }
  })
  t.equal(created.statusCode, 201)
  const id = (created.json() as { id: string }).id
  t.equal((await app.inject({ method: 'DELETE', url: `/features/collections/sites/items/${id}`, headers: auth })).statusCode, 204)
  const after = await scrape(app)
  const q = (s: Sample[], collection: string): number => value(s, 'geotoken_feature_queries_total', { collection })
  const w = (s: Sample[], operation: string): number => value(s, 'geotoken_feature_writes_total', { collection: 'sites', operation })
  t.equal(q(after, 'sites') - q(before, 'sites'), 1)
  t.equal(q(after, 'networks') - q(before, 'networks'), 1)
  t.equal(value(after, 'geotoken_feature_queries_total', { collection: 'nope' }), 0)
  t.equal(w(after, 'create') - w(before, 'create'), 1)
  t.equal(w(after, 'delete') - w(before, 'delete'), 1)
})

t.test('verification failures count by reason', async t => {
  const { app, clients, config } = await build(t, { METRICS_TOKEN })
  const ring = await testRing()
  const current = ring.keys.find(k => k.state === 'current')
  if (current === undefined) throw new Error('no current key')
  const now = Math.floor(Date.now() / 1000)
  const claims = (over: Record<string, unknown> = {}) => ({
    iss: config.ISSUER, aud: config.AUDIENCE, sub: clients.acme.id, client_id: clients.acme.id, org: 'acme',
    scope: 'features:read', iat: now - 10, exp: now + 600, jti: randomUUID(), ...over
  })
  const header = { alg: 'RS256', typ: 'at+jwt', kid: current.kid }
  const good = rs256(header, claims(), current.privateKey)
  const [head, , sig] = good.split('.') as [string, string, string]
  const stranger = await newRingKey(2048, Date.now())
  const issued = await tokenFor(app, clients.acme)
  // Revoked as /oauth/revoke does it: its jti on the deny-list the guard consults.
  await app.tokenState.revoked.add(decodePart(issued, 1).jti as string, Date.now() + 600_000)

  const cases: Array<[string, string | undefined]> = [
    ['missing', undefined],
    ['malformed', 'Bearer not-a-jwt'],
    ['malformed', 'Token abc'],
    ['expired', `Bearer ${rs256(header, claims({ iat: now - 7200, exp: now - 3600 }), current.privateKey)}`],
    ['bad_signature', `Bearer ${head}.${Buffer.from(JSON.stringify(claims({ org: 'globex' }))).toString('base64url')}.${sig}`],
    ['unknown_kid', `Bearer ${rs256({ ...header, kid: stranger.kid }, claims(), stranger.privateKey)}`],
    ['wrong_audience', `Bearer ${rs256(header, claims({ aud: 'https://elsewhere.example' }), current.privateKey)}`],
    ['wrong_issuer', `Bearer ${rs256(header, claims({ iss: 'https://evil.example' }), current.privateKey)}`],
    ['wrong_type', `Bearer ${rs256({ ...header, typ: 'JWT' }, claims(), current.privateKey)}`],
    ['bad_algorithm', `Bearer ${rs256({ ...header, alg: 'none' }, claims(), current.privateKey)}`],
    ['revoked', `Bearer ${issued}`]
  ]
  const before = await scrape(app)
  for (const [reason, authorization] of cases) {
    const res = await app.inject({ url: '/features/collections', headers: authorization === undefined ? {} : { authorization } })
    t.equal(res.statusCode, 401, `${reason}: 401`)
  }
  t.equal((await app.inject({ url: '/features/collections', headers: { authorization: `Bearer ${good}` } })).statusCode, 200, 'the untampered token passes')
  const after = await scrape(app)
  const expected = new Map<string, number>()
  for (const [reason] of cases) expected.set(reason, (expected.get(reason) ?? 0) + 1)
  for (const [reason, n] of expected) {
    const delta = value(after, 'geotoken_token_verification_failures_total', { reason }) - value(before, 'geotoken_token_verification_failures_total', { reason })
    t.equal(delta, n, `reason ${reason} counted ${n}×`)
  }
  t.equal(value(after, 'geotoken_token_verification_failures_total', { reason: 'invalid' }), 0, 'no failure fell through to the generic label')
})

t.test('key gauges follow the ring', async t => {
  const { app } = await build(t, { METRICS_TOKEN })
  const samples = await scrape(app)
  t.equal(value(samples, 'geotoken_keys', { state: 'current' }), 1)
  t.equal(value(samples, 'geotoken_keys', { state: 'next' }), 1)
  t.equal(value(samples, 'geotoken_keys', { state: 'retired' }), 0)
  const current = app.keys.view.signing
  const age = value(samples, 'geotoken_key_age_seconds', { kid: current.kid, state: 'current' })
  t.ok(age >= 3599 && age < 3700, `the current key is about an hour old (${age} s)`)
  t.ok(value(samples, 'geotoken_signing_key_active_seconds') > 3500)
})
