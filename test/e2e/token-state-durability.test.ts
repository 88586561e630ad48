// Issue 16, embedded default: token state acknowledged before a SIGKILL is there after a restart. The real process
// (src/server.ts) with no STATE_STORE set, a real identity provider over HTTP for the jwt-bearer grant; every check
// after the restart goes through the HTTP API, as a client would see it.
import t, { type Test } from 'tap'
import { serializeClients } from '../../src/clients/registry.js'
import { basic, clientsFixture, form, smallSeed, type TestClient } from '../helpers/app.js'
import { assertion, JWT_BEARER, startIdp, trustedFile, type Idp } from '../helpers/idp.js'
import { freePort } from '../helpers/net.js'
import { startServer, type ServerProcess } from '../helpers/process.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Tokens { access_token: string, refresh_token?: string }

/** A service process of the test's own: a read+write client, a federated one, and a trusted identity provider. */
async function service (t: Test) {
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
    TOKEN_RATE_PER_IP: '1000000', TOKEN_RATE_PER_CLIENT: '1000000', TOKEN_RATE_INTROSPECT_PER_CLIENT: '1000000'
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

t.test('after kill -9 and a restart: revocations hold, a rotated refresh token works once and reuse of its predecessor revokes the family, an assertion cannot be replayed', async t => {
  const s = await service(t)
  const json = async (res: Response): Promise<Tokens> => {
    if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${await res.text()}`)
    return await res.json() as Tokens
  }

  // (1) An access token revoked with a 200.
  const revokedToken = await s.token()
  t.equal(await s.items(revokedToken), 200, 'the token works before its revocation')
  t.equal((await s.post(s.plain, 'revoke', `token=${revokedToken}`)).status, 200, 'revoke answered 200')
  t.equal(await s.items(revokedToken), 401, 'and the guard refuses it')
  const untouched = await s.token()

  // (2) Two refresh families, each rotated once. Family A's newest token will be used after the restart; family B's
  // spent predecessor will be replayed after it.
  const a1 = await json(await s.exchange(await assertion(s.idp, { audience: `${base(s)}/oauth/token` })))
  const a2 = await json(await s.refresh(a1.refresh_token as string))
  const b1 = await json(await s.exchange(await assertion(s.idp, { audience: `${base(s)}/oauth/token` })))
  const b2 = await json(await s.refresh(b1.refresh_token as string))
  t.equal(await s.items(b2.access_token), 200, 'family B\'s newest access token works')

  // (3) An assertion exchanged with a 200.
  const used = await assertion(s.idp, { audience: `${base(s)}/oauth/token` })
  await json(await s.exchange(used))
  t.equal((await s.exchange(used)).status, 400, 'its replay is refused before the restart')

  await s.killAndRestart()

  t.equal(await s.items(revokedToken), 401, '(1) the revoked token is still refused by the guard')
  t.equal(await s.active(s.plain, revokedToken), false, '(1) and introspection answers inactive')
  t.equal(await s.items(untouched), 200, 'a token never revoked still works')
  t.equal(await s.active(s.plain, untouched), true)

  const a3res = await s.refresh(a2.refresh_token as string)
  t.equal(a3res.status, 200, '(2) the rotated refresh token still works')
  const a3 = await json(a3res)
  const a2again = await s.refresh(a2.refresh_token as string)
  t.equal(a2again.status, 400, '(2) once')
  t.match(await a2again.json(), { error: 'invalid_grant' })
  t.equal((await s.refresh(a3.refresh_token as string)).status, 400, 'and its second use revoked the family: its successor is dead too')

  const b1again = await s.refresh(b1.refresh_token as string)
  t.equal(b1again.status, 400, '(2) the predecessor spent before the crash is still seen as spent')
  t.match(await b1again.json(), { error: 'invalid_grant', error_description: /already used/ }, 'as reuse')
  t.equal((await s.refresh(b2.refresh_token as string)).status, 400, '(2) its family is revoked: the newest refresh token is refused')
  t.equal(await s.items(b2.access_token), 401, '(2) and so is the family\'s access token')

  const replay = await s.exchange(used)
  t.equal(replay.status, 400, '(3) the assertion accepted before the crash cannot be replayed after it')
  t.match(await replay.json(), { error: 'invalid_grant', error_description: /already been used/ })
  t.equal((await s.exchange(await assertion(s.idp, { audience: `${base(s)}/oauth/token` }))).status, 200, 'a fresh assertion is accepted')
})

t.test('revocations acknowledged under load survive a kill -9 in the middle of the stream, three times over', async t => {
  const s = await service(t)
  const acked: string[] = []
  for (let cycle = 1; cycle <= 3; cycle++) {
    let stop = false
    let cut = 0
    const sender = async (): Promise<void> => {
      while (!stop) {
        try {
          const token = await s.token()
          const res = await s.post(s.plain, 'revoke', `token=${token}`)
          await res.arrayBuffer()
          if (res.status === 200) acked.push(token)
          else throw new Error(`revoke answered ${res.status}`)
        } catch (err) {
          if ((err as Error).message.startsWith('revoke answered')) throw err
          cut++ // the connection died with the process: not acknowledged
          if (!stop) await sleep(5)
        }
      }
    }
    const before = acked.length
    const senders = Array.from({ length: 8 }, sender)
    await sleep(400 + Math.random() * 600)
    await s.killAndRestart().finally(() => { stop = true })
    await Promise.all(senders)
    t.ok(acked.length > before, `cycle ${cycle}: ${acked.length - before} revocations acknowledged before the kill (${cut} cut off)`)
    const working: string[] = []
    for (const token of acked) if (await s.items(token) !== 401) working.push(token.slice(-12))
    t.strictSame(working, [], `after restart ${cycle}: all ${acked.length} acknowledged revocations are refused by the guard`)
  }
  const sample = acked.filter((_, i) => i % 10 === 0)
  const active = await Promise.all(sample.map(async token => await s.active(s.plain, token)))
  t.equal(active.filter(Boolean).length, 0, `and by introspection (${sample.length} sampled)`)
})

/** The issuer the process derived from HOST and PORT (ISSUER is unset): the assertion's audience is its token endpoint. */
function base (s: { proc: ServerProcess }): string {
  const match = /geotoken listening on (\S+)/.exec(s.proc.output().stdout)
  if (match?.[1] === undefined) throw new Error('no banner')
  return match[1]
}
