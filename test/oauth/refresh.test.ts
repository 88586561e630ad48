// Issue 13: a refresh grants only what the client and its identity provider allow now, and a disabled client's
// refresh tokens stop working (refresh, revocation and introspection all answer invalid_client).
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { disableClient } from '../../src/clients/registry.js'
import { updateClients } from '../../src/clients/store.js'
import { memoryBackend } from '../../src/tokens/backend.js'
import { TokenStateUnavailable } from '../../src/shared/errors.js'
import { basic, build, decodePart, form, type Built, type TestClient } from '../helpers/app.js'
import { assertion, JWT_BEARER, startIdp, trustedFile, type Idp } from '../helpers/idp.js'

const ITEMS = '/features/collections/sites/items'
const FEATURE = JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [2, 48] }, properties: { kind: 'refresh-test' } })

interface Tokens { access_token: string, refresh_token: string, scope: string }

function client (app: FastifyInstance, who: TestClient) {
  const post = async (path: string, payload: string) => await app.inject({ method: 'POST', url: `/oauth/${path}`, headers: { ...form, ...basic(who.id, who.secret) }, payload })
  return {
    exchange: async (jwt: string) => await post('token', `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${encodeURIComponent(jwt)}`),
    refresh: async (token: string, more = '') => await post('token', `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}${more}`),
    revoke: async (token: string) => await post('revoke', `token=${encodeURIComponent(token)}`),
    introspect: async (token: string) => await post('introspect', `token=${encodeURIComponent(token)}`),
    write: async (token: string) => (await app.inject({ method: 'POST', url: ITEMS, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/geo+json' }, payload: FEATURE })).statusCode
  }
}

async function setScopes (built: Built, who: TestClient, scopes: string[]): Promise<void> {
  await updateClients(built.dataDir, file => ({ file: { ...file, clients: file.clients.map(c => c.client_id === who.id ? { ...c, scopes: scopes as typeof c.scopes } : c) }, result: null }))
  await built.app.clients.reload()
}

async function setup (t: Test, deps: Parameters<typeof build>[2] = {}): Promise<Built & { idp: Idp, fed: ReturnType<typeof client> }> {
  const idp = await startIdp(t)
  const built = await build(t, { TRUSTED_ISSUERS_FILE: trustedFile(idp) }, deps)
  return { ...built, idp, fed: client(built.app, built.clients.acmeFederated) }
}

t.test('features:write taken from a client is not refreshed back: the refresh grants features:read and the write is refused', async t => {
  const built = await setup(t)
  const { fed, idp } = built
  const first = (await fed.exchange(await assertion(idp))).json() as Tokens
  t.equal(first.scope, 'features:read features:write', 'granted read and write at first')
  t.equal(await fed.write(first.access_token), 201, 'and the first access token writes')

  await setScopes(built, built.clients.acmeFederated, ['features:read'])
  const res = await fed.refresh(first.refresh_token)
  t.equal(res.statusCode, 200)
  const second = res.json() as Tokens
  t.equal(second.scope, 'features:read', 'the refresh answers only the scope the client still has')
  t.equal(decodePart(second.access_token, 1).scope, 'features:read', 'and the access token carries only that')
  t.equal(await fed.write(second.access_token), 403, 'the refreshed token cannot write')

  const beyond = await fed.refresh(second.refresh_token, '&scope=features:write')
  t.equal(beyond.statusCode, 400)
  t.equal(beyond.json().error, 'invalid_scope', 'asking for the withdrawn scope is invalid_scope (RFC 6749 §5.2: exceeds what may be granted)')

  await setScopes(built, built.clients.acmeFederated, ['features:write'])
  const back = await fed.refresh(second.refresh_token)
  t.equal(back.statusCode, 200, 'the refused refresh did not spend the refresh token')
  t.equal(back.json().scope, 'features:write', 'the grant still holds write: given back to the client, a refresh grants it again')

  await setScopes(built, built.clients.acmeFederated, ['tokens:introspect'])
  const nothing = await fed.refresh((back.json() as Tokens).refresh_token)
  t.equal(nothing.statusCode, 400)
  t.equal(nothing.json().error, 'invalid_grant', 'nothing of the grant left: invalid_grant, no token')
  t.notOk('access_token' in nothing.json())
})

t.test('a refresh grants only what the identity provider allows now, and nothing once it is no longer trusted', async t => {
  // One token-state backend shared by four instances of the service, each started with another trusted-issuers file.
  const state = memoryBackend()
  t.teardown(async () => { await state.close() })
  const built = await setup(t, { tokenState: state })
  const { idp, fed } = built
  const first = (await fed.exchange(await assertion(idp))).json() as Tokens
  const second = (await fed.exchange(await assertion(idp))).json() as Tokens

  const restart = async (trusted: string): Promise<ReturnType<typeof client>> => {
    // Its own data directory (a copy of clients.json, no features): only the keys and the token state are shared.
    const dataDir = mkdtempSync(join(tmpdir(), 'geotoken-refresh-'))
    copyFileSync(join(built.dataDir, 'clients.json'), join(dataDir, 'clients.json'))
    const config = loadConfig({ KEYS_DIR: built.keysDir, DATA_DIR: dataDir, SEED_FILE: '', ISSUER: built.config.ISSUER, TRUSTED_ISSUERS_FILE: trusted, LOG_LEVEL: 'silent' })
    const app = await buildApp(config, { tokenState: state })
    t.teardown(async () => { await app.close(); rmSync(dataDir, { recursive: true, force: true }) })
    return client(app, built.clients.acmeFederated)
  }
  const narrowed = await restart(trustedFile(idp, { scopes: ['features:read'] }))
  const res = await narrowed.refresh(first.refresh_token)
  t.equal(res.statusCode, 200)
  t.equal(res.json().scope, 'features:read', 'the IdP may now grant only features:read')

  const other = await startIdp(t)
  const untrusted = await restart(trustedFile(other))
  const gone = await untrusted.refresh(second.refresh_token)
  t.equal(gone.statusCode, 400)
  t.equal(gone.json().error, 'invalid_grant', 'the IdP that granted it is no longer trusted: invalid_grant')

  const moved = await restart(trustedFile(idp, { org: { fixed: 'globex' } }))
  const wrongOrg = await moved.refresh((res.json() as Tokens).refresh_token)
  t.equal(wrongOrg.json().error, 'invalid_grant', 'the IdP may no longer grant acme: invalid_grant')
})

t.test('a disabled client\'s refresh tokens stop working: refresh, revocation and introspection answer invalid_client', async t => {
  const built = await setup(t)
  const { fed, idp } = built
  const tokens = (await fed.exchange(await assertion(idp))).json() as Tokens
  t.equal((await fed.introspect(tokens.refresh_token)).json().active, true, 'active before')
  await updateClients(built.dataDir, file => ({ file: disableClient(file, built.clients.acmeFederated.id, new Date()), result: null }))
  await built.app.clients.reload()
  for (const [name, res] of [['refresh', await fed.refresh(tokens.refresh_token)], ['revoke', await fed.revoke(tokens.refresh_token)], ['introspect', await fed.introspect(tokens.refresh_token)]] as const) {
    t.equal(res.statusCode, 401, `${name}: 401`)
    t.equal(res.json().error, 'invalid_client', `${name}: invalid_client`)
  }
})

t.test('a refresh that fails while storing its successor (a 503) leaves the token it replaces usable: the retry works, no reuse is seen', async t => {
  // The real in-memory store, with its access-token record failing as a store that went away fails (what Redis
  // going down midway did in test/e2e/several-instances.test.ts): the token replaced is spent only after that.
  const state = memoryBackend()
  t.teardown(async () => { await state.close() })
  const families = state.refreshFamilies
  let failures = 0
  const record = families.addAccessToken.bind(families)
  families.addAccessToken = async (...args) => {
    if (failures-- > 0) throw new TokenStateUnavailable('injected: the store went away')
    return await record(...args)
  }
  const { idp, fed } = await setup(t, { tokenState: state })
  const first = (await fed.exchange(await assertion(idp))).json() as Tokens
  failures = 1
  const failed = await fed.refresh(first.refresh_token)
  t.equal(failed.statusCode, 503, 'the refresh answers 503')
  t.equal(failed.json().error, 'temporarily_unavailable')
  const retried = await fed.refresh(first.refresh_token)
  t.equal(retried.statusCode, 200, 'the retry with the same token succeeds')
  const next = (retried.json() as Tokens).refresh_token
  t.equal((await fed.refresh(next)).statusCode, 200, 'and its successor works: the family was not revoked')
  t.equal((await fed.refresh(first.refresh_token)).json().error_description, 'the refresh token was already used; its whole family is now revoked', 'a real reuse is still seen')
})
