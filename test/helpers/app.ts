// Test harness: a real app on t.testdir() keys and clients, with log lines captured.
import type { Test } from 'tap'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import Fastify from 'fastify'
import { geotoken, serverOptions, type AppDeps } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { addClient, emptyClients, serializeClients, type ClientsFile } from '../../src/clients/registry.js'
import { serializeRing, type KeyRing } from '../../src/keys/keyring.js'
import { newRingKey } from '../../src/keys/generate.js'
import { updateClients } from '../../src/clients/store.js'
import type { FeatureStore } from '../../src/features/store.js'
import type { ContractSeed, StoreFactory } from '../features/store-contract.js'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { randomUUID } from 'node:crypto'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { loadKek } from '../../src/keys/kek.js'
import { redisRingSource } from '../../src/keys/redis-ring.js'
import { redisClientSource } from '../../src/clients/redis-clients.js'

type Tap = Pick<Test, 'testdir' | 'teardown'>

export interface TestClient { id: string, secret: string, org: string }

let ringOnce: Promise<KeyRing> | undefined
/** Real RSA keys, generated once per process: a current and a next key published an hour ago. */
export async function testRing (): Promise<KeyRing> {
  ringOnce ??= (async () => {
    const then = Date.now() - 3600_000
    const [a, b] = await Promise.all([newRingKey(2048, then), newRingKey(2048, then)])
    return { keys: [{ ...a, state: 'current' as const, activatedAt: then }, b] }
  })()
  return await ringOnce
}

export function clientsFixture (specs: Array<{ org: string, scopes: string[], grantTypes?: string[] }>): { file: ClientsFile, clients: TestClient[] } {
  let file = emptyClients()
  const clients: TestClient[] = []
  for (const spec of specs) {
    const added = addClient(file, { ...spec, now: new Date() })
    file = added.file
    clients.push({ id: added.client.client_id, secret: added.secret, org: spec.org })
  }
  return { file, clients }
}

export const COLLECTIONS = [
  { id: 'sites', title: 'Sites', description: 'points', temporalProperty: 'observed_at', queryables: ['kind', 'name'] },
  { id: 'networks', title: 'Networks', description: 'lines and polygons', temporalProperty: 'observed_at', queryables: ['kind'] }
]

/** A small seed: a few features per org, acme in Europe, globex in the US, both in the sites collection. */
export function smallSeed (): string {
  const point = (id: string, org: string, lon: number, lat: number, kind: string, at: string) => ({
    type: 'Feature', id, org, collection: 'sites', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { name: id, kind, observed_at: at }
  })
  const features = [
    point('a1', 'acme', 2.35, 48.85, 'office', '2025-01-01T00:00:00Z'),
    point('a2', 'acme', 4.35, 50.85, 'depot', '2025-06-01T00:00:00Z'),
    point('a3', 'acme', 6.0, 48.0, 'plant', '2026-01-01T00:00:00Z'),
    point('g1', 'globex', -74.0, 40.7, 'office', '2025-03-01T00:00:00Z'),
    point('g2', 'globex', 6.1, 48.1, 'yard', '2025-09-01T00:00:00Z'),
    { type: 'Feature', id: 'n1', org: 'acme', collection: 'networks', geometry: { type: 'LineString', coordinates: [[2, 48], [3, 49]] }, properties: { kind: 'cable', observed_at: '2025-02-02T00:00:00Z' } }
  ]
  return JSON.stringify({ type: 'FeatureCollection', collections: COLLECTIONS, features })
}

export interface Built {
  app: FastifyInstance
  config: Config
  logs: string[]
  keysDir: string
  dataDir: string
  /**
   * acme (read+write), globex (read+write), acme read-only; acmeFederated uses the jwt-bearer and refresh_token
   * grants; resourceServer (globex) may introspect any token.
   */
  clients: { acme: TestClient, globex: TestClient, acmeReader: TestClient, acmeFederated: TestClient, resourceServer: TestClient }
}

/**
 * The service on t.testdir() keys, clients and seed (buildApp's two steps). `before` runs on the bare instance before
 * the service registers, so a hook it adds sees everything (e.g. onRoute: every route, with its schema).
 */
export async function build (t: Tap, env: Record<string, string> = {}, deps: AppDeps = {}, before?: (app: FastifyInstance) => void): Promise<Built> {
  const { file, clients } = clientsFixture([
    { org: 'acme', scopes: ['features:read', 'features:write'] },
    { org: 'globex', scopes: ['features:read', 'features:write'] },
    { org: 'acme', scopes: ['features:read'] },
    { org: 'acme', scopes: ['features:read', 'features:write'], grantTypes: ['urn:ietf:params:oauth:grant-type:jwt-bearer', 'refresh_token'] },
    { org: 'globex', scopes: ['tokens:introspect'] }
  ])
  const root = t.testdir({
    keys: { 'keyring.json': serializeRing(await testRing()) },
    data: { 'clients.json': serializeClients(file), 'seed.geojson': smallSeed() }
  })
  const config = loadConfig({
    KEYS_DIR: `${root}/keys`, DATA_DIR: `${root}/data`, SEED_FILE: `${root}/data/seed.geojson`, ISSUER: 'http://geotoken.test', LOG_LEVEL: 'info',
    ...(env.STATE_STORE === 'redis' ? { KEY_ENCRYPTION_KEY: TEST_KEK } : {}), ...env
  })
  // With STATE_STORE=redis the ring and the clients live in Redis: this test's replace whatever an earlier test left.
  if (config.STATE_STORE === 'redis') await seedRedis(config, await testRing(), file)
  const logs: string[] = []
  const logStream = new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } })
  if (deps.featureStore === undefined) {
    const featureStore = await testFeatureBackend(t, config.SEED_FILE)
    if (featureStore !== undefined) deps = { ...deps, featureStore }
  }
  const app = Fastify(serverOptions(config, { logStream, ...deps }))
  before?.(app)
  await app.register(geotoken, { config, deps: { logStream, ...deps } })
  t.teardown(() => app.close())
  const [acme, globex, acmeReader, acmeFederated, resourceServer] = clients as [TestClient, TestClient, TestClient, TestClient, TestClient]
  return { app, config, logs, keysDir: `${root}/keys`, dataDir: `${root}/data`, clients: { acme, globex, acmeReader, acmeFederated, resourceServer } }
}

/**
 * The feature backend the HTTP suites run on: the embedded one (undefined: the app opens it from SEED_FILE), or
 * TEST_FEATURE_BACKEND's, a module whose default export is a StoreFactory (test/features/store-contract.ts) given
 * the same seed. E.g. `TEST_FEATURE_BACKEND=./test/helpers/postgis-backend.ts npx tap test/features/ogc-conformance.test.ts`.
 */
async function testFeatureBackend (t: Tap, seedFile: string): Promise<FeatureStore | undefined> {
  const backend = process.env.TEST_FEATURE_BACKEND
  if (backend === undefined || backend === '') return undefined
  const open = (await import(resolve(backend)) as { default: StoreFactory }).default
  const seed: ContractSeed = { collections: [], features: [] }
  if (seedFile !== '') {
    const fc = JSON.parse(await readFile(seedFile, 'utf8')) as { collections: ContractSeed['collections'], features: Array<Record<string, unknown>> }
    seed.collections = fc.collections
    seed.features = fc.features.map(({ org, collection, id, ...feature }) => ({
      org: org as string, collection: collection as string, feature: { ...feature, id: String(id ?? randomUUID()) } as ContractSeed['features'][number]['feature']
    }))
  }
  const store = await open(t as Test, seed)
  // The app never closes a store it was given: the test does, when it ends.
  t.teardown(async () => { await store.close() })
  return store
}

/** The key-encryption key of every STATE_STORE=redis app a test builds (one per process, like the test ring). */
export const TEST_KEK = randomBytes(32).toString('base64')

/** Writes `ring` and `clients` into the Redis of `config`, over whatever is there. */
export async function seedRedis (config: Config, ring: KeyRing, clients: ClientsFile): Promise<void> {
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  try {
    const quiet = { info () {}, warn () {}, error () {} }
    await redisRingSource(redis, await loadKek(config), quiet).update(async () => ({ ring, result: null }))
    await redisClientSource(redis, quiet).update(() => ({ file: clients, result: null }))
  } finally {
    redis.disconnect()
  }
}

export const form = { 'content-type': 'application/x-www-form-urlencoded' }

export function basic (id: string, secret: string): { authorization: string } {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` }
}

/** A token from the real token endpoint. */
export async function tokenFor (app: FastifyInstance, client: TestClient, scope?: string): Promise<string> {
  const res = await app.inject({
    method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(client.id, client.secret) },
    payload: `grant_type=client_credentials${scope === undefined ? '' : `&scope=${encodeURIComponent(scope)}`}`
  })
  if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode} ${res.body}`)
  return (res.json() as { access_token: string }).access_token
}

export function decodePart (token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] as string, 'base64url').toString('utf8')) as Record<string, unknown>
}

/** One read+write client per org, added to the running app's clients.json, and a token for each. */
export async function tokensForOrgs (app: FastifyInstance, dataDir: string, orgs: readonly string[]): Promise<Record<string, string>> {
  const clients: TestClient[] = []
  await updateClients(dataDir, file => {
    let next = file
    for (const org of orgs) {
      const added = addClient(next, { org, scopes: ['features:read', 'features:write'], now: new Date() })
      next = added.file
      clients.push({ id: added.client.client_id, secret: added.secret, org })
    }
    return { file: next, result: null }
  })
  await app.clients.reload()
  const tokens: Record<string, string> = {}
  for (const client of clients) tokens[client.org] = await tokenFor(app, client)
  return tokens
}
