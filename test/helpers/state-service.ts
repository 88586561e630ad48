// The real service process with token state to exercise: a read+write client, a federated client (jwt-bearer and
// refresh_token) and a trusted identity provider over HTTP, with small helpers that speak HTTP to it.
import type { Test } from 'tap'
import { serializeClients } from '../../src/clients/registry.js'
import { basic, clientsFixture, form, smallSeed, type TestClient } from './app.js'
import { assertion, JWT_BEARER, startIdp, trustedFile, type Idp } from './idp.js'
import { freePort } from './net.js'
import { startServer, type ServerProcess } from './process.js'

export interface Tokens { access_token: string, refresh_token?: string }

/** A service process of the test's own: a read+write client, a federated one, and a trusted identity provider. */
export async function stateService (t: Test, extra: Record<string, string> = {}) {
  const idp: Idp = await startIdp(t)
  const { file, clients } = clientsFixture([
    { org: 'acme', scopes: ['features:read', 'features:write'] },
    { org: 'acme', scopes: ['features:read', 'features:write'], grantTypes: [JWT_BEARER, 'refresh_token'] }
  ])
  const [plain, federated] = clients as [TestClient, TestClient]
  const dir = t.testdir({ data: { 'clients.json': serializeClients(file) }, 'seed.geojson': smallSeed() })
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const env = {
    PORT: String(port), HOST: '127.0.0.1', KEYS_DIR: `${dir}/keys`, DATA_DIR: `${dir}/data`, SEED_FILE: `${dir}/seed.geojson`,
    DEMO_CLIENTS: 'false', ISSUER: '', AUDIENCE: '', LOG_LEVEL: 'warn', TRUSTED_ISSUERS_FILE: trustedFile(idp),
    // The load below asks for hundreds of tokens; the limits are not what this test is about.
    TOKEN_RATE_PER_IP: '1000000', TOKEN_RATE_PER_CLIENT: '1000000', TOKEN_RATE_INTROSPECT_PER_CLIENT: '1000000',
    ...extra
  }
  let proc: ServerProcess = startServer(env)
  t.teardown(() => { proc.child.kill('SIGKILL') })
  await proc.ready()

  const post = async (who: TestClient, path: string, body: string): Promise<Response> =>
    await fetch(`${base}/oauth/${path}`, { method: 'POST', headers: { ...form, ...basic(who.id, who.secret) }, body })
  return {
    idp,
    dataDir: env.DATA_DIR,
    plain,
    federated,
    get proc () { return proc },
    post,
    /** A client_credentials access token; anything but 200 throws. */
    async token (): Promise<string> {
      const res = await post(plain, 'token', 'grant_type=client_credentials')
      if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`)
      return (await res.json() as Tokens).access_token
    },
    async exchange (jwt: string): Promise<Response> {
      return await post(federated, 'token', `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${encodeURIComponent(jwt)}`)
    },
    async refresh (token: string): Promise<Response> {
      return await post(federated, 'token', `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`)
    },
    async items (token: string): Promise<number> {
      const res = await fetch(`${base}/features/collections/sites/items?limit=1`, { headers: { authorization: `Bearer ${token}` } })
      await res.arrayBuffer()
      return res.status
    },
    async active (who: TestClient, token: string): Promise<boolean> {
      const res = await post(who, 'introspect', `token=${encodeURIComponent(token)}`)
      if (res.status !== 200) throw new Error(`introspect: ${res.status}`)
      return (await res.json() as { active: boolean }).active
    },
    /** An assertion from the identity provider for this process's token endpoint. */
    async assertion (): Promise<string> { return await assertion(idp, { audience: `${issuerOf(proc)}/oauth/token` }) },
    /** SIGKILL (no graceful close, nothing flushed on the way out), then the same command again. */
    async killAndRestart (): Promise<void> {
      proc.child.kill('SIGKILL')
      const exit = await proc.exited
      t.equal(exit.signal, 'SIGKILL', 'the server was killed')
      proc = startServer(env)
      await proc.ready()
    }
  }
}

/** The issuer the process derived from HOST and PORT (ISSUER is unset): the assertion's audience is its token endpoint. */
function issuerOf (proc: ServerProcess): string {
  const match = /geotoken listening on (\S+)/.exec(proc.output().stdout)
  if (match?.[1] === undefined) throw new Error('no banner')
  return match[1]
}
