// Issue 16, "Tests on the real thing": three real geotoken processes on one real Redis (STATE_STORE=redis), behind
// a real HAProxy (round-robin, health-checked on /ready). Everything goes over HTTP: through the balancer, or to one
// instance directly when the point is what *that* instance answers. One Redis, three processes and one HAProxy for
// the whole file; the cases that break something (Redis restarted, an instance killed) come last.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { clientsCli } from '../../scripts/clients.js'
import { basic, form, smallSeed } from '../helpers/app.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { assertion, JWT_BEARER, startIdp, trustedFile } from '../helpers/idp.js'
import { freePort } from '../helpers/net.js'
import { npm } from '../helpers/npm.js'
import { startServer, type ServerProcess } from '../helpers/process.js'
import { newKek, startRedis } from '../helpers/redis.js'

const PER_CLIENT = 30
const redis = await startRedis(t, { appendfsync: 'always' })
const idp = await startIdp(t)
// Not t.testdir(): startHaproxy takes the file's testdir for itself, and would empty this one.
const dir = mkdtempSync(join(tmpdir(), 'geotoken-several-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
writeFileSync(join(dir, 'seed.geojson'), smallSeed())
const kekFile = join(dir, 'kek')
writeFileSync(kekFile, `${newKek()}\n`, { mode: 0o600 })
const shared = {
  STATE_STORE: 'redis', REDIS_URL: redis.url, KEY_ENCRYPTION_KEY_FILE: kekFile, ISSUER: 'http://geotoken.test', AUDIENCE: '',
  SEED_FILE: join(dir, 'seed.geojson'), DEMO_CLIENTS: 'false', LOG_LEVEL: 'warn', TRUSTED_ISSUERS_FILE: trustedFile(idp),
  // One client's limit is what the rate-limit case measures; the per-IP limit would count the whole file (every
  // request comes from 127.0.0.1), so it is out of the way. A lockout lasts the rest of the file.
  TOKEN_RATE_PER_CLIENT: String(PER_CLIENT), TOKEN_RATE_PER_IP: '1000000', AUTH_LOCKOUT_BASE_S: '120'
}

interface Instance { name: string, proc: ServerProcess, base: string }
async function instance (name: string): Promise<Instance> {
  const port = await freePort()
  const proc = startServer({ ...shared, PORT: String(port), HOST: '127.0.0.1', KEYS_DIR: join(dir, name, 'keys'), DATA_DIR: join(dir, name, 'data') })
  t.teardown(async () => { proc.child.kill('SIGTERM'); await proc.exited })
  await proc.ready()
  return { name, proc, base: `http://127.0.0.1:${port}` }
}
// The first one generates the ring in Redis; the other two find it there.
const first = await instance('i0')
const instances = [first, ...await Promise.all([instance('i1'), instance('i2')])]
const balancer = await startHaproxy(t, instances.map(i => i.base))
await balancer.waitUp(3)
const lb = balancer.base

interface Client { id: string, secret: string }
async function addClient (grants = 'client_credentials'): Promise<Client> {
  const out: string[] = []
  const err: string[] = []
  const code = await clientsCli(['add', '--org', 'acme', '--scopes', 'features:read features:write', '--grants', grants, '--json'], shared, { out: l => out.push(l), err: l => err.push(l), now: () => new Date() })
  if (code !== 0) throw new Error(`add-client exited ${code}: ${err.join('\n')}`)
  const added = JSON.parse(out.join('')) as { client_id: string, client_secret: string }
  return { id: added.client_id, secret: added.client_secret }
}
const federated = async (): Promise<Client> => await addClient(`${JWT_BEARER} refresh_token`)

interface Answer { status: number, body: Record<string, unknown>, retryAfter: string | null }
async function post (base: string, path: string, who: Client, body: string): Promise<Answer> {
  const res = await fetch(`${base}/oauth/${path}`, { method: 'POST', headers: { ...form, ...basic(who.id, who.secret) }, body })
  const text = await res.text()
  let parsed: Record<string, unknown> = {}
  try { parsed = JSON.parse(text) as Record<string, unknown> } catch { parsed = { text } }
  return { status: res.status, body: parsed, retryAfter: res.headers.get('retry-after') }
}
const token = async (base: string, who: Client): Promise<Answer> => await post(base, 'token', who, 'grant_type=client_credentials')
const exchange = async (base: string, who: Client): Promise<Answer> =>
  await post(base, 'token', who, `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${await assertion(idp)}`)
const refresh = async (base: string, who: Client, rt: string): Promise<Answer> =>
  await post(base, 'token', who, `grant_type=refresh_token&refresh_token=${encodeURIComponent(rt)}`)
const items = async (base: string, jwt: string): Promise<number> =>
  (await fetch(`${base}/features/collections/sites/items`, { headers: { authorization: `Bearer ${jwt}` } }).then(async r => { await r.arrayBuffer(); return r })).status
const accessOf = (a: Answer): string => a.body.access_token as string
const refreshOf = (a: Answer): string => a.body.refresh_token as string

/** Polls `base` until `jwt` is refused (401); returns the milliseconds since `since`, or Infinity after 5 s. */
async function refusedAfter (base: string, jwt: string, since: number): Promise<number> {
  while (performance.now() - since < 5000) {
    if (await items(base, jwt) === 401) return performance.now() - since
    await sleep(5)
  }
  return Infinity
}

t.test('a token issued through the balancer, by whichever instance, verifies on all three asked directly', async t => {
  const client = await addClient()
  for (let i = 0; i < 6; i++) {
    const issued = await token(lb, client)
    t.equal(issued.status, 200, `token ${i} issued`)
    t.same(await Promise.all(instances.map(async x => await items(x.base, accessOf(issued)))), [200, 200, 200], `token ${i} verifies on i0, i1, i2`)
  }
  t.equal(await items(first.base, 'not-a-token'), 401, 'the guarded route does refuse what is not a token')
})

t.test('a revocation through the balancer is refused by each instance, asked directly, within 1 s', async t => {
  const client = await addClient()
  for (let trial = 0; trial < 3; trial++) {
    const jwt = accessOf(await token(lb, client))
    t.same(await Promise.all(instances.map(async x => await items(x.base, jwt))), [200, 200, 200], 'valid everywhere before')
    const revoked = await post(lb, 'revoke', client, `token=${encodeURIComponent(jwt)}`)
    t.equal(revoked.status, 200)
    const at = performance.now()
    const ms = await Promise.all(instances.map(async x => await refusedAfter(x.base, jwt, at)))
    for (const [i, m] of ms.entries()) t.ok(m < 1000, `trial ${trial}: refused by i${i} ${m.toFixed(0)} ms after the revocation was acknowledged`)
  }
})

t.test('a refresh token used on one instance and reused on another revokes the family everywhere', async t => {
  const fed = await federated()
  const [a, b, c] = instances as [Instance, Instance, Instance]
  const granted = await exchange(a.base, fed)
  t.equal(granted.status, 200, 'jwt-bearer on i0 gives a refresh token')
  const rotated = await refresh(b.base, fed, refreshOf(granted))
  t.equal(rotated.status, 200, 'i1 rotates it')
  t.same(await Promise.all(instances.map(async x => await items(x.base, accessOf(rotated)))), [200, 200, 200], 'the refreshed access token verifies everywhere')
  const reuse = await refresh(c.base, fed, refreshOf(granted))
  t.equal(reuse.status, 400)
  t.equal(reuse.body.error, 'invalid_grant', 'i2 sees the reuse of the spent token')
  const at = performance.now()
  t.equal((await refresh(a.base, fed, refreshOf(rotated))).body.error, 'invalid_grant', 'the family is revoked: the newest refresh token is dead on i0')
  for (const jwt of [accessOf(granted), accessOf(rotated)]) {
    const ms = await Promise.all(instances.map(async x => await refusedAfter(x.base, jwt, at)))
    t.ok(ms.every(m => m < 1000), `an access token of the family is refused by every instance (${ms.map(m => m.toFixed(0)).join(', ')} ms)`)
  }
})

// Exactly one of the two wins the atomic rotation and is answered 200; the other is a reuse and revokes the family.
// When the reuse lands between the winner's rotation and its answer, what the winner hands out is denied in the same
// step that would have recorded it (issue 13), so every token of the family ends refused either way.
const USED = 'the refresh token was already used; its whole family is now revoked'
t.test('two concurrent refreshes of one refresh token on two instances: exactly one succeeds, the family ends revoked', async t => {
  const fed = await federated()
  for (let trial = 0; trial < 6; trial++) {
    const granted = await exchange(lb, fed)
    const rt = refreshOf(granted)
    const [x, y] = [instances[trial % 3], instances[(trial + 1) % 3]] as [Instance, Instance]
    const answers = await Promise.all([refresh(x.base, fed, rt), refresh(y.base, fed, rt)])
    const won = answers.filter(a => a.status === 200)
    const reused = answers.filter(a => a.status === 400 && a.body.error_description === USED)
    t.equal(won.length, 1, `trial ${trial} (${x.name} and ${y.name}): exactly one rotation succeeded (${answers.map(a => a.status).join(', ')})`)
    t.equal(reused.length, 1, 'the other was seen as a reuse')
    const at = performance.now()
    for (const jwt of [accessOf(granted), ...won.map(accessOf)]) {
      const ms = await Promise.all(instances.map(async i => await refusedAfter(i.base, jwt, at)))
      t.ok(ms.every(m => m < 1000), `an access token of the family is refused everywhere (${ms.map(m => m.toFixed(0)).join(', ')} ms)`)
    }
    for (const a of won) t.equal((await refresh(lb, fed, refreshOf(a))).body.error, 'invalid_grant', 'the refresh token handed to the winner is dead')
  }
})

t.test(`the per-client rate limit and the lockout hold across instances: ${PER_CLIENT} per window in all, not ${3 * PER_CLIENT}`, async t => {
  const client = await addClient()
  const statuses: number[] = []
  // Five at a time through the balancer, so every instance gets its share.
  for (let i = 0; i < 3 * PER_CLIENT; i += 5) statuses.push(...(await Promise.all(Array.from({ length: 5 }, async () => (await token(lb, client)).status))))
  t.equal(statuses.filter(s => s === 200).length, PER_CLIENT, `${PER_CLIENT} of ${statuses.length} requests got a token`)
  t.equal(statuses.filter(s => s === 429).length, statuses.length - PER_CLIENT, 'the rest got 429')
  for (const x of instances) {
    const direct = await token(x.base, client)
    t.equal(direct.status, 429, `${x.name} asked directly refuses it too`)
    t.match(direct.retryAfter, /^[1-9]\d*$/)
  }

  const victim = await addClient()
  const wrong = { id: victim.id, secret: 'wrong-secret' }
  const failures: number[] = []
  for (let i = 0; i < 5; i++) failures.push((await token(lb, wrong)).status)
  t.same(failures, [401, 401, 401, 401, 401], 'five wrong secrets through the balancer, spread over three instances')
  for (const x of instances) {
    const locked = await token(x.base, victim)
    t.equal(locked.status, 429, `${x.name} asked directly refuses even the right secret: the lockout counted all five`)
    t.match(locked.retryAfter, /^[1-9]\d*$/)
  }
})

interface Sample { kind: 'token' | 'items', status: number, started: number, ended: number, error?: string, retryAfter?: string | null }

/**
 * Requests through the balancer until stopped: each worker gets a token with the next client of a pool (each client
 * used fewer times than its rate limit) every eighth round and uses it on the guarded route at once, so a token signed by one instance
 * is checked by another. Once the pool is spent, workers keep using the last token they got.
 */
function load (pool: Client[], workers = 6): { stop: () => Promise<Sample[]> } {
  const samples: Sample[] = []
  const used = new Map<string, number>()
  let next = 0
  let running = true
  const pick = (): Client | undefined => {
    for (let tries = 0; tries < pool.length; tries++) {
      const c = pool[next++ % pool.length] as Client
      const n = used.get(c.id) ?? 0
      if (n < PER_CLIENT - 5) { used.set(c.id, n + 1); return c }
    }
    return undefined
  }
  const timed = async (kind: Sample['kind'], f: () => Promise<Answer | number>): Promise<Answer | undefined> => {
    const started = performance.now()
    try {
      const a = await f()
      const status = typeof a === 'number' ? a : a.status
      samples.push({ kind, status, started, ended: performance.now(), ...(typeof a === 'number' ? {} : { error: a.body.error as string | undefined, retryAfter: a.retryAfter }) })
      return typeof a === 'number' ? undefined : a
    } catch (err) {
      samples.push({ kind, status: 0, started, ended: performance.now(), error: (err as Error).message })
      return undefined
    }
  }
  const worker = async (): Promise<void> => {
    let jwt: string | undefined
    let fetched = -Infinity
    // A fresh token every 150 ms per worker, so that the pool lasts through the whole case however fast the machine.
    while (running) {
      const c = performance.now() - fetched >= 150 ? pick() : undefined
      if (c !== undefined) {
        fetched = performance.now()
        const a = await timed('token', async () => await token(lb, c))
        if (a?.status === 200) jwt = accessOf(a)
      }
      if (jwt !== undefined) { const j = jwt; await timed('items', async () => await items(lb, j)) } else await sleep(20)
    }
  }
  const done = Promise.all(Array.from({ length: workers }, worker))
  return { stop: async () => { running = false; await done; return samples } }
}
// One after the other: concurrent writers of the registry lose to each other's compare-and-set (APP_STORE_CONFLICT).
async function pool (n: number): Promise<Client[]> {
  const clients: Client[] = []
  for (let i = 0; i < n; i++) clients.push(await addClient())
  return clients
}
const summary = (s: Sample[]): string => {
  const by = new Map<string, number>()
  for (const x of s) by.set(`${x.kind} ${x.status}`, (by.get(`${x.kind} ${x.status}`) ?? 0) + 1)
  return [...by].map(([k, v]) => `${k}: ${v}`).join(', ')
}

t.test('keys rotated with npm run rotate-keys while requests flow through the balancer: 0 failed requests', async t => {
  const flow = load(await pool(16))
  await sleep(1000)
  let rotated = 0
  const jwks = async (): Promise<string> => JSON.stringify((await (await fetch(`${first.base}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string }> }).keys.map(k => k.kid).sort())
  for (let i = 0; i < 2; i++) {
    const before = await jwks()
    const run = await npm(['run', '--silent', 'rotate-keys', '--', '--force'], shared)
    t.equal(run.code, 0, `rotation ${i + 1}: ${run.stderr}`)
    t.not(await jwks(), before, 'the ring changed')
    rotated = performance.now()
    // After the last rotation, long enough for a loaded machine (the whole suite beside it) to issue a few tokens.
    await sleep(i === 1 ? 2000 : 1000)
  }
  const samples = await flow.stop()
  t.comment(summary(samples))
  t.ok(samples.filter(s => s.kind === 'token').length > 20 && samples.filter(s => s.kind === 'items').length > 20, 'enough requests flowed')
  t.ok(samples.filter(s => s.kind === 'token' && s.started > rotated).length >= 3, 'tokens were still being issued (and used) after the last rotation')
  t.same(samples.filter(s => s.status !== 200), [], 'not one failed request')
})

t.test('Redis restarted under load: only the documented 503s, recovery within seconds, nothing acknowledged lost', async t => {
  // Families refreshed and tokens revoked while Redis goes away and comes back: what was acknowledged must hold.
  // One client per family and for the revocations, each kept under its rate limit (PER_CLIENT per window).
  const feds = [await federated(), await federated(), await federated()]
  const revoker = await addClient()
  const probes = await pool(3)
  const families: string[] = []
  for (const fed of feds) families.push(refreshOf(await exchange(lb, fed)))
  const revoked: string[] = []
  const odd: string[] = []
  // Rate-limited requests are the counted ones (a 503 while Redis is down counts nothing): each client stays under
  // PER_CLIENT (the exchange counted one), and the writer runs from before the stop until after the recovery.
  const used = new Map<Client, number>()
  const spend = (c: Client, n: number): boolean => { const u = used.get(c) ?? 1; if (u + n > PER_CLIENT - 2) return false; used.set(c, u + n); return true }
  const refreshedAt: number[] = []
  let writing = true
  const writer = async (): Promise<void> => {
    for (let round = 0; writing; round++) {
      await Promise.all(feds.map(async (fed, f) => {
        if (!spend(fed, 1)) return
        const r = await refresh(lb, fed, families[f] as string)
        if (r.status === 200) { families[f] = refreshOf(r); refreshedAt.push(performance.now()) } else {
          used.set(fed, (used.get(fed) ?? 1) - 1)
          if (r.status !== 503) odd.push(`refresh ${r.status} ${JSON.stringify(r.body)}`)
        }
      }))
      if (round % 2 === 0 && spend(revoker, 2)) {
        const issued = await token(lb, revoker)
        if (issued.status === 200) {
          const r = await post(lb, 'revoke', revoker, `token=${encodeURIComponent(accessOf(issued))}`)
          if (r.status === 200) revoked.push(accessOf(issued))
          else if (r.status !== 503) odd.push(`revoke ${r.status}`)
        } else {
          used.set(revoker, (used.get(revoker) ?? 1) - 2)
          if (issued.status !== 503) odd.push(`token for revoke ${issued.status}`)
        }
      }
      await sleep(150)
    }
  }
  const flow = load(await pool(12))
  const writing$ = writer()
  await sleep(1000)
  const stopped = performance.now()
  await redis.stop('SIGTERM')
  await sleep(1500)
  await redis.start()
  const restarted = performance.now()
  const recovered = await Promise.all(instances.map(async (x, i) => {
    while (performance.now() - restarted < 15_000) {
      if ((await token(x.base, probes[i] as Client)).status === 200) return performance.now() - restarted
      await sleep(100)
    }
    return Infinity
  }))
  await sleep(1000)
  writing = false
  await writing$
  const samples = await flow.stop()
  t.comment(`${summary(samples)}; ${revoked.length} revocations and ${refreshedAt.length} refreshes acknowledged; Redis down ${(restarted - stopped).toFixed(0)} ms`)

  for (const [i, ms] of recovered.entries()) t.ok(ms < 5000, `i${i} issues tokens again ${ms.toFixed(0)} ms after Redis came back`)
  const during = samples.filter(s => s.started > stopped && s.ended < restarted)
  t.ok(during.some(s => s.kind === 'token' && s.status === 503), 'requests did arrive while Redis was down')
  t.same(samples.filter(s => s.kind === 'items' && s.status !== 200), [], 'the guarded route kept serving: only 200')
  const badTokens = samples.filter(s => s.kind === 'token' && !(s.status === 200 || (s.status === 503 && s.error === 'temporarily_unavailable' && /^[1-9]\d*$/.test(s.retryAfter ?? ''))))
  t.same(badTokens, [], 'the token endpoint answered 200, or 503 temporarily_unavailable with Retry-After: nothing else')
  t.same(samples.filter(s => s.kind === 'token' && s.status === 503 && s.started > restarted + 5000), [], 'no 503 more than 5 s after Redis was back')
  t.same(odd, [], 'refresh and revoke answered 200 or 503 only')

  t.ok(revoked.length > 0, 'revocations were acknowledged')
  t.ok(refreshedAt.some(at => at < stopped) && refreshedAt.some(at => at > restarted), 'refreshes were acknowledged before the stop and after the restart')
  for (const x of instances) {
    const accepted = (await Promise.all(revoked.map(async jwt => await items(x.base, jwt)))).filter(s => s !== 401)
    t.same(accepted, [], `${x.name}: every acknowledged revocation still holds`)
  }
  for (const [f, rt] of families.entries()) {
    const r = await refresh(instances[f % 3]?.base as string, feds[f] as Client, rt)
    t.equal(r.status, 200, `family ${f}: the last refresh token handed out still works (no acknowledged rotation lost)${r.status === 200 ? '' : `: ${JSON.stringify(r.body)}`}`)
  }
})

t.test('kill -9 of one instance under load: only its in-flight requests fail, and the balancer routes around it', async t => {
  const flow = load(await pool(16))
  await sleep(1500)
  const victim = instances[1] as Instance
  const killed = performance.now()
  victim.proc.child.kill('SIGKILL')
  await victim.proc.exited
  // The kernel closes its sockets as the process ends: what was sent to it until then was in flight.
  const gone = performance.now()
  await balancer.waitUp(2)
  const routedAround = performance.now()
  await sleep(2000)
  const samples = await flow.stop()
  t.comment(`${summary(samples)}; the process was gone ${(gone - killed).toFixed(0)} ms and HAProxy saw it down ${(routedAround - killed).toFixed(0)} ms after the kill`)
  const failed = samples.filter(s => s.status !== 200)
  // One request in flight per worker (6); a worker whose request failed may send its next to the dying instance too.
  t.ok(failed.length <= 12, `a handful failed, at most two per worker (${failed.length})`)
  // HAProxy answers 502, or closes the client's connection (status 0 here) when the request went out on a reused
  // server connection, so that the client may retry.
  t.same(failed.filter(s => ![0, 502, 503].includes(s.status)), [], 'the failures are the balancer\'s 502/503 or a closed connection')
  // 50 ms of grace: until HAProxy has seen the close, it may still send a request on an idle connection to it.
  t.same(failed.filter(s => s.started > gone + 50), [], 'every failed request was in flight when the instance was gone: nothing sent after it failed')
  t.ok(samples.filter(s => s.started > routedAround && s.status === 200).length > 10, 'requests keep succeeding on the other two')
  for (const x of instances.filter(i => i !== victim)) {
    t.equal((await fetch(`${x.base}/ready`)).status, 200, `${x.name} is still ready`)
  }
})
