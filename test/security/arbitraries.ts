// Owns the fuzzing properties (issue 6), shared by `npm run fuzz` (test/security/fuzz.ts) and the in-suite slice:
// a real listening target, the input generators, and the oracle every answer must satisfy.
import fc from 'fast-check'
import { Agent, request as httpRequest } from 'node:http'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { serializeClients } from '../../src/clients/registry.js'
import { serializeRing } from '../../src/keys/keyring.js'
import { clientsFixture, smallSeed, testRing, type TestClient } from '../helpers/app.js'
import { b64, rs256 } from '../helpers/forge.js'
import type { OrgId } from '../../src/features/store.js'

export interface Target {
  app: FastifyInstance
  port: number
  clients: { acme: TestClient, reader: TestClient }
  /** A genuine read+write token of acme. */
  token: string
  /** A feature of acme that PUT and PATCH may change. */
  fixtureId: string
  close: () => Promise<void>
}

export interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }
export interface Request { method: string, path: string, headers?: Record<string, string>, body?: string | Buffer }

const agent = new Agent({ keepAlive: true, maxSockets: 8 })

/** One HTTP exchange over a real socket; a connection the server drops is an answer with status 0. */
export async function send (port: number, r: Request): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: r.headers, agent }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(r.body)
  })
}

/** Starts the real service on `root` (keys, clients, seed) listening on an ephemeral port, with abuse limits off. */
export async function startTarget (root: string): Promise<Target> {
  const { file, clients } = clientsFixture([
    { org: 'acme', scopes: ['features:read', 'features:write'] },
    { org: 'acme', scopes: ['features:read'] }
  ])
  mkdirSync(join(root, 'keys'), { recursive: true })
  mkdirSync(join(root, 'data'), { recursive: true })
  writeFileSync(join(root, 'keys', 'keyring.json'), serializeRing(await testRing()), { mode: 0o600 })
  writeFileSync(join(root, 'data', 'clients.json'), serializeClients(file), { mode: 0o600 })
  writeFileSync(join(root, 'data', 'seed.geojson'), smallSeed())
  const config = loadConfig({
    KEYS_DIR: join(root, 'keys'), DATA_DIR: join(root, 'data'), SEED_FILE: join(root, 'data', 'seed.geojson'),
    ISSUER: 'http://geotoken.test', LOG_LEVEL: 'silent',
    // The fuzzer is one client hammering from one address: the limits have their own tests.
    TOKEN_RATE_PER_IP: '1000000', TOKEN_RATE_PER_CLIENT: '1000000', AUTH_LOCKOUT_AFTER: '1000', AUTH_LOCKOUT_CLIENT_AFTER: '100000', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0'
  })
  const app = await buildApp(config)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const [acme, reader] = clients as [TestClient, TestClient]
  const tokenRes = await send(port, { method: 'POST', path: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader(acme.id, acme.secret) }, body: 'grant_type=client_credentials' })
  if (tokenRes.status !== 200) throw new Error(`fuzz target: no token (${tokenRes.status} ${tokenRes.body})`)
  const token = (JSON.parse(tokenRes.body) as { access_token: string }).access_token
  const created = await send(port, { method: 'POST', path: '/features/collections/sites/items', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/geo+json' }, body: JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [1, 2] }, properties: { kind: 'fixture' } }) })
  if (created.status !== 201) throw new Error(`fuzz target: no fixture (${created.status} ${created.body})`)
  const fixtureId = (JSON.parse(created.body) as { id: string }).id
  return { app, port, clients: { acme, reader }, token, fixtureId, close: async () => { agent.destroy(); await app.close() } }
}

export function basicHeader (id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`
}

// ---------------------------------------------------------------------------------------------------------------
// The oracle: every answer is a success or the standard error format of its endpoint.

const OAUTH_ERRORS = new Set(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'temporarily_unavailable'])
const DESCRIPTION = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/
const CHALLENGE = /^Bearer realm="[^"\\]*"(, (error|error_description|scope)="[\x20\x21\x23-\x5B\x5D-\x7E]*")*$/
const STACK = /\bat [\w.<>]+ \(|node_modules|\.ts:\d+/

function parseJson (a: Answer): Record<string, unknown> {
  try { return JSON.parse(a.body) as Record<string, unknown> } catch { throw new Error(`${a.status}: body is not JSON: ${a.body.slice(0, 200)}`) }
}

/** RFC 6749 §5.1/§5.2 at /oauth/token. Throws with the reason when the answer breaks the format. */
export function checkTokenAnswer (a: Answer): void {
  if (a.status >= 500 || a.status === 0) throw new Error(`token endpoint answered ${a.status}: ${a.body.slice(0, 300)}`)
  if (a.headers['cache-control'] !== 'no-store') throw new Error(`${a.status} without Cache-Control: no-store`)
  if (!String(a.headers['content-type']).startsWith('application/json')) throw new Error(`${a.status} with content-type ${String(a.headers['content-type'])}`)
  const body = parseJson(a)
  if (a.status === 200) {
    if (typeof body.access_token !== 'string' || body.token_type !== 'Bearer') throw new Error(`200 without a token: ${a.body}`)
    return
  }
  if (![400, 401, 429].includes(a.status)) throw new Error(`token endpoint answered ${a.status}`)
  if (!OAUTH_ERRORS.has(body.error as string)) throw new Error(`${a.status} with error ${JSON.stringify(body.error)}`)
  if (typeof body.error_description !== 'string' || !DESCRIPTION.test(body.error_description)) throw new Error(`${a.status} with error_description ${JSON.stringify(body.error_description)}`)
  if (a.status === 401 && !/^Basic realm="/.test(String(a.headers['www-authenticate']))) throw new Error('401 without a Basic challenge')
  if (STACK.test(a.body)) throw new Error(`a stack trace in ${a.body}`)
}

/** Under /features: 401/403 carry an RFC 6750 challenge and problem+json; every other error is RFC 9457 problem+json. */
export function checkFeatureAnswer (a: Answer): void {
  if (a.status >= 500 || a.status === 0) throw new Error(`feature API answered ${a.status}: ${a.body.slice(0, 300)}`)
  if (a.status < 400) return
  if (a.status === 401 || a.status === 403) {
    const challenge = String(a.headers['www-authenticate'])
    if (!CHALLENGE.test(challenge)) throw new Error(`${a.status} with challenge ${challenge}`)
  }
  if (!String(a.headers['content-type']).startsWith('application/problem+json')) throw new Error(`${a.status} with content-type ${String(a.headers['content-type'])}: ${a.body.slice(0, 200)}`)
  const body = parseJson(a)
  if (body.status !== a.status || typeof body.title !== 'string' || typeof body.type !== 'string' || typeof body.detail !== 'string') {
    throw new Error(`${a.status}: not an RFC 9457 problem: ${a.body.slice(0, 300)}`)
  }
  if (STACK.test(a.body)) throw new Error(`a stack trace in ${a.body}`)
}

// ---------------------------------------------------------------------------------------------------------------
// Generators.

/** Header values Node's HTTP client will send (visible ASCII, space, tab; no CR/LF/NUL). */
const headerText = (maxLength = 80): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...' \t!"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~'.split('')), maxLength })
const anyText = (maxLength = 60): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ maxLength }), fc.string({ unit: 'grapheme', maxLength }), fc.string({ unit: 'binary', maxLength }))

const FORM = 'application/x-www-form-urlencoded'
const formType = fc.constantFrom(FORM, `${FORM}; charset=utf-8`, `${FORM};charset=ISO-8859-1`, 'application/json', 'text/plain',
  'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded-x', '', 'FORM', `${FORM.toUpperCase()}`)

export function tokenRequest (target: Target): fc.Arbitrary<Request> {
  const { acme, reader } = target.clients
  const value = (name: string): fc.Arbitrary<string> => {
    const known: Record<string, string[]> = {
      grant_type: ['client_credentials', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'password', ''],
      client_id: [acme.id, reader.id, 'nobody'],
      client_secret: [acme.secret, reader.secret, 'wrong'],
      scope: ['features:read', 'features:write', 'features:read features:write', 'tokens:introspect', 'admin', ' ']
    }
    return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(known[name] ?? ['x'])) }, { weight: 2, arbitrary: anyText() }, { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 2000 }) })
  }
  const param = fc.constantFrom('grant_type', 'client_id', 'client_secret', 'scope', 'refresh_token', 'assertion', 'token', 'x')
    .chain(name => fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constant(name) }, { weight: 1, arbitrary: anyText(20) }), value(name)))
  const formBody = fc.array(param, { maxLength: 6 }).map(pairs => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'))
  const body = fc.oneof(
    { weight: 6, arbitrary: formBody },
    { weight: 1, arbitrary: formBody.map(b => b.replace(/%[0-9A-F]{2}/, '%ZZ')) },
    { weight: 1, arbitrary: fc.jsonValue().map(v => JSON.stringify(v)) },
    { weight: 1, arbitrary: anyText(300) }
  )
  const authorization = fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(basicHeader(acme.id, acme.secret), basicHeader(reader.id, reader.secret), basicHeader(acme.id, 'wrong'), basicHeader('nobody', 'x')) },
    { weight: 2, arbitrary: fc.tuple(anyText(40), anyText(40)).map(([i, s]) => basicHeader(i, s)) },
    { weight: 1, arbitrary: fc.base64String({ maxLength: 80 }).map(s => `Basic ${s}`) },
    { weight: 2, arbitrary: headerText() }
  )
  return fc.record({ type: formType, body, authorization }).map(({ type, body, authorization }) => {
    const headers: Record<string, string> = {}
    if (type !== '') headers['content-type'] = type
    if (authorization !== undefined) headers.authorization = authorization
    return { method: 'POST', path: '/oauth/token', headers, body }
  })
}

/** Authorization headers built from the genuine token, forged JWS parts and noise; `genuine` marks the untouched one. */
export function authorizationHeader (target: Target): fc.Arbitrary<{ value: string, genuine: boolean }> {
  const token = target.token
  const [h, p, s] = token.split('.') as [string, string, string]
  const signing = target.app.keys.view.signing
  const mutated = fc.tuple(fc.nat({ max: token.length - 1 }), fc.constantFrom(...'AZaz09-_.=+/ !'.split('')), fc.constantFrom('replace', 'insert', 'delete'))
    .map(([at, ch, how]) => how === 'replace' ? token.slice(0, at) + ch + token.slice(at + 1) : how === 'insert' ? token.slice(0, at) + ch + token.slice(at) : token.slice(0, at) + token.slice(at + 1))
  const forgedHeader = fc.record({
    alg: fc.constantFrom('RS256', 'HS256', 'none', 'ES256', 'PS256', 'rs256'),
    typ: fc.constantFrom('at+jwt', 'JWT', undefined),
    kid: fc.oneof(fc.constant(signing.kid), anyText(20)),
    jku: fc.option(fc.constant('http://127.0.0.1:1/jwks.json'), { nil: undefined }),
    crit: fc.option(fc.constant(['b64']), { nil: undefined })
  }, { requiredKeys: [] })
  const forgedClaims = fc.dictionary(fc.constantFrom('iss', 'aud', 'sub', 'org', 'scope', 'exp', 'iat', 'nbf', 'jti', 'client_id'), fc.jsonValue({ maxDepth: 2 }))
  const forged = fc.tuple(forgedHeader, forgedClaims, fc.constantFrom('rs-real-key', 'original-signature', 'none'))
    .map(([hd, cl, how]) => how === 'rs-real-key'
      // Signed by the real key: still refused, since the claims are random (checked below with the same rules).
      ? rs256(hd, cl, signing.privateKey)
      : how === 'original-signature' ? `${b64(hd)}.${b64(cl)}.${s}` : `${b64(hd)}.${b64(cl)}.`)
  const scheme = fc.constantFrom('Bearer ', 'bearer ', 'BEARER  ', 'Bearer', 'Basic ', 'Bearer\t', '', ' Bearer ', 'Bearer "')
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant({ value: `Bearer ${token}`, genuine: true }) },
    { weight: 4, arbitrary: fc.tuple(scheme, mutated).map(([sc, tok]) => ({ value: `${sc}${tok}`, genuine: false })) },
    { weight: 3, arbitrary: fc.tuple(scheme, forged).map(([sc, tok]) => ({ value: `${sc}${tok}`, genuine: false })) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(h, p, s, '', 'e30'), { maxLength: 6 }).map(parts => ({ value: `Bearer ${parts.join('.')}`, genuine: false })) },
    { weight: 1, arbitrary: headerText(200).map(value => ({ value, genuine: false })) }
  )
}

/**
 * True when the header value `candidate`, as the server receives it, carries exactly the genuine token's bytes
 * (base64url leaves a few pad bits free). HTTP strips whitespace around a field value (RFC 9110 §5.5), so
 * ` Bearer <token>` arrives as `Bearer <token>`; and a mutation may replace a character with itself. Judging the
 * delivered value makes every oracle failure a real defect.
 */
export function sameTokenBytes (candidate: string, genuine: string): boolean {
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(candidate.replace(/^[ \t]+|[ \t]+$/g, ''))
  if (m === null) return false
  const a = (m[1] as string).split('.')
  const b = genuine.split('.')
  if (a.length !== 3 || a.some(x => !/^[A-Za-z0-9_-]*$/.test(x))) return false
  return a.every((x, i) => x.length === (b[i] as string).length && Buffer.from(x, 'base64url').equals(Buffer.from(b[i] as string, 'base64url')))
}

export function itemsQuery (): fc.Arbitrary<string> {
  const number = fc.oneof(fc.double({ noNaN: false }).map(String), fc.integer({ min: -400, max: 400 }).map(String), fc.constantFrom('', ' ', '1e400', '-0', '0x10', 'Infinity', '1,2'))
  const value = (name: string): fc.Arbitrary<string> => {
    switch (name) {
      case 'bbox': return fc.oneof(fc.array(number, { minLength: 0, maxLength: 7 }).map(a => a.join(',')), anyText())
      case 'limit': case 'offset': return fc.oneof(fc.integer({ min: -5, max: 5000 }).map(String), fc.constantFrom('9007199254740993', '1e3', '10abc', ''), anyText(10))
      case 'datetime': return fc.oneof(
        fc.date({ noInvalidDate: true }).map(d => d.toISOString()),
        fc.tuple(fc.constantFrom('..', '', '2025-01-01', '2025-02-30', '2025-01-01T00:00:00Z', '2025-13-01T25:61:61Z'), fc.constantFrom('..', '', '2026-01-01', '2024-01-01T00:00:00+01:00')).map(([a, b]) => `${a}/${b}`),
        anyText(30))
      case 'bbox-crs': return fc.constantFrom('http://www.opengis.net/def/crs/OGC/1.3/CRS84', 'EPSG:4326', '')
      case 'f': return fc.constantFrom('json', 'geojson', 'html', '')
      default: return anyText(30)
    }
  }
  const name = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('bbox', 'bbox-crs', 'limit', 'offset', 'datetime', 'f', 'kind', 'name') }, { weight: 1, arbitrary: anyText(12) })
  const pair = name.chain(n => fc.tuple(fc.constant(n), value(n)))
  return fc.array(pair, { maxLength: 5 }).map(pairs => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'))
}

const coordinate = fc.oneof(fc.double({ min: -200, max: 200, noNaN: true }), fc.double(), fc.constantFrom(1e308, -1e308, -0, 180, -180, 90, -90))
const position = fc.oneof({ weight: 8, arbitrary: fc.array(coordinate, { minLength: 2, maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 4 }) })
const ring = fc.tuple(fc.array(position, { maxLength: 6 }), fc.boolean()).map(([r, close]) => close && r.length > 2 ? [...r, r[0]] : r)
const geometry: fc.Arbitrary<unknown> = fc.letrec<{ g: unknown }>(tie => ({
  g: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.record({ type: fc.constant('Point'), coordinates: position }),
    fc.record({ type: fc.constant('LineString'), coordinates: fc.array(position, { maxLength: 5 }) }),
    fc.record({ type: fc.constant('Polygon'), coordinates: fc.array(ring, { maxLength: 3 }) }),
    fc.record({ type: fc.constant('MultiPoint'), coordinates: fc.array(position, { maxLength: 4 }) }),
    fc.record({ type: fc.constant('MultiPolygon'), coordinates: fc.array(fc.array(ring, { maxLength: 2 }), { maxLength: 2 }) }),
    fc.record({ type: fc.constant('GeometryCollection'), geometries: fc.array(tie('g'), { maxLength: 3 }) }),
    fc.record({ type: fc.constantFrom('Circle', 'point', 'Feature', ''), coordinates: position }),
    fc.constant(null),
    fc.jsonValue({ maxDepth: 2 }))
})).g
const feature = fc.record({
  type: fc.oneof({ weight: 9, arbitrary: fc.constant('Feature') }, { weight: 1, arbitrary: fc.constantFrom('FeatureCollection', 'feature', '') }),
  id: fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.double(), fc.constant({})), { nil: undefined }),
  geometry,
  properties: fc.oneof(fc.dictionary(fc.oneof(fc.constantFrom('org', 'kind', 'name', 'observed_at', '__proto__', 'constructor'), fc.string({ maxLength: 10 })), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }), fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
  bbox: fc.option(fc.array(coordinate, { maxLength: 7 }), { nil: undefined })
}, { requiredKeys: ['type'] })

export function writeRequest (target: Target): fc.Arbitrary<Request> {
  const body = fc.oneof(
    { weight: 6, arbitrary: feature.map(f => JSON.stringify(f)) },
    { weight: 1, arbitrary: fc.nat({ max: 5000 }).map(depth => `{"type":"Feature","geometry":{"type":"Polygon","coordinates":${'['.repeat(depth)}${']'.repeat(depth)}}}`) },
    { weight: 1, arbitrary: fc.jsonValue().map(v => JSON.stringify(v)) },
    { weight: 1, arbitrary: anyText(200) },
    { weight: 1, arbitrary: feature.map(f => JSON.stringify(f).replace('"type"', '"__proto__":{"org":"globex"},"type"')) }
  )
  const type = fc.constantFrom('application/geo+json', 'application/json', 'application/merge-patch+json', 'application/geo+json; charset=utf-8', 'text/plain', '', 'application/x-www-form-urlencoded')
  const target_ = fc.constantFrom<[string, string]>(
    ['POST', '/features/collections/sites/items'], ['POST', '/features/collections/networks/items'], ['POST', '/features/collections/nowhere/items'],
    ['PUT', `/features/collections/sites/items/${target.fixtureId}`], ['PATCH', `/features/collections/sites/items/${target.fixtureId}`],
    ['PUT', '/features/collections/sites/items/g1'], ['PATCH', '/features/collections/sites/items/00000000-0000-4000-8000-000000000000'])
  const ifMatch = fc.option(fc.constantFrom('*', '"nope"', 'W/"x"', ''), { nil: undefined })
  return fc.record({ where: target_, body, type, ifMatch }).map(({ where: [method, path], body, type, ifMatch }) => {
    const headers: Record<string, string> = { authorization: `Bearer ${target.token}` }
    if (type !== '') headers['content-type'] = type
    if (ifMatch !== undefined) headers['if-match'] = ifMatch
    return { method, path, headers, body }
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The properties: each sends one generated request and checks the answer.

export interface FuzzProperty { name: string, property: fc.IAsyncProperty<unknown[]> }
const erase = <Ts extends unknown[]>(p: fc.IAsyncProperty<Ts>): fc.IAsyncProperty<unknown[]> => p as unknown as fc.IAsyncProperty<unknown[]>

export function properties (target: Target): FuzzProperty[] {
  return [
    {
      name: 'token endpoint: form bodies, content types, client authentication',
      property: erase(fc.asyncProperty(tokenRequest(target), async r => { checkTokenAnswer(await send(target.port, r)) }))
    },
    {
      name: 'Authorization header on a read and a write route',
      property: erase(fc.asyncProperty(authorizationHeader(target), fc.boolean(), async ({ value, genuine }, write) => {
        const a = await send(target.port, write
          ? { method: 'POST', path: '/features/collections/nowhere/items', headers: { authorization: value, 'content-type': 'application/geo+json' }, body: '{}' }
          : { method: 'GET', path: '/features/collections/sites/items?limit=1', headers: { authorization: value } })
        checkFeatureAnswer(a)
        const accepted = a.status !== 401 && a.status !== 403
        if (accepted && !genuine && !sameTokenBytes(value, target.token)) throw new Error(`accepted a forged or altered Authorization: ${value.slice(0, 200)}`)
        if (genuine && !accepted) throw new Error(`refused the genuine token: ${a.status} ${a.body}`)
      }))
    },
    {
      name: 'items query parameters',
      property: erase(fc.asyncProperty(itemsQuery(), async q => {
        const a = await send(target.port, { method: 'GET', path: `/features/collections/sites/items?${q}`, headers: { authorization: `Bearer ${target.token}` } })
        checkFeatureAnswer(a)
        if (a.status !== 200 && a.status !== 400) throw new Error(`items answered ${a.status}: ${a.body.slice(0, 200)}`)
        if (a.status === 200 && (JSON.parse(a.body) as { type?: string }).type !== 'FeatureCollection') throw new Error('200 without a FeatureCollection')
      }))
    },
    {
      name: 'GeoJSON write bodies (POST, PUT, PATCH)',
      property: erase(fc.asyncProperty(writeRequest(target), async r => {
        const a = await send(target.port, r)
        checkFeatureAnswer(a)
        if (a.status === 201) {
          // Keep the store (and the heap) the size it was: the fuzzer measures memory.
          const created = JSON.parse(a.body) as { id: string, properties: { org?: string } }
          if (created.properties.org !== 'acme') throw new Error(`a created feature is stamped ${String(created.properties.org)}`)
          await target.app.features.forOrg('acme' as OrgId).delete(r.path.split('/')[3] as string, created.id)
        }
      }))
    }
  ]
}
