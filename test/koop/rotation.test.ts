// Key rotation at the issuer while Koop runs: new keys are picked up, withdrawn ones stop working, no restart.
import t from 'tap'
import { rotateKeys } from '../../scripts/rotate-keys.js'
import { decodePart } from '../helpers/app.js'
import { listenIssuer } from '../helpers/net.js'
import { ACME, QUERY, arcgisToken, get, listenKoop, names } from '../helpers/koop.js'

const io = { out () {}, err () {}, now: Date.now }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

t.test('tokens signed by a freshly rotated key work through Koop at once, and the older tokens still do', async t => {
  const env = { RELOAD_INTERVAL_MS: '100', JWKS_MAX_AGE_S: '0', CLOCK_TOLERANCE_S: '0' }
  const issuer = await listenIssuer(t, env)
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features`, jwks: { kidMissCooldownMs: 0 } } })
  const first = await arcgisToken(koop.base, issuer.clients.acme)
  t.same(names(await get(koop.layer + QUERY, { token: first })), ACME)
  const kids = new Set([decodePart(first, 0).kid])
  for (let round = 1; round <= 2; round++) {
    // A next key may be promoted once published for 2 × RELOAD_INTERVAL_MS (200 ms here): with fast key generation
    // the second rotation could otherwise come sooner and be refused.
    if (round > 1) await sleep(250)
    t.equal(await rotateKeys([], { ...env, KEYS_DIR: issuer.keysDir }, io), 0, `rotation ${round}`)
    let token = await arcgisToken(koop.base, issuer.clients.acme)
    for (let i = 0; i < 50 && kids.has(decodePart(token, 0).kid); i++) {
      await sleep(50)
      token = await arcgisToken(koop.base, issuer.clients.acme)
    }
    t.notOk(kids.has(decodePart(token, 0).kid), `round ${round}: generateToken hands out a token of the new key`)
    kids.add(decodePart(token, 0).kid)
    t.same(names(await get(koop.layer + QUERY, { token })), ACME, `round ${round}: it is accepted on the first query`)
    t.same(names(await get(koop.layer + QUERY, { bearer: first })), ACME, `round ${round}: the first token still is (its key retired, not gone)`)
  }
})

t.test('a key withdrawn by an emergency rotation stops opening Koop once the cached key set expires', async t => {
  const issuer = await listenIssuer(t, { RELOAD_INTERVAL_MS: '100', JWKS_MAX_AGE_S: '120' })
  let offsetMs = 0
  const koop = await listenKoop(t, {
    auth: { issuer: issuer.base, audience: `${issuer.base}/features`, jwks: { minCacheS: 10, maxCacheS: 600 }, clock: () => Date.now() + offsetMs }
  })
  const token = await arcgisToken(koop.base, issuer.clients.acme)
  t.same(names(await get(koop.layer + QUERY, { token })), ACME, 'verified, its key set cached for max-age=120 s, the token itself remembered')
  const kid = decodePart(token, 0).kid as string
  t.equal(await rotateKeys(['--emergency', kid], { KEYS_DIR: issuer.keysDir, JWKS_MAX_AGE_S: '120' }, io), 0, 'emergency rotation')
  for (let i = 0; i < 50; i++) {
    const jwks = await (await fetch(`${issuer.base}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string }> }
    if (!jwks.keys.some(k => k.kid === kid)) break
    await sleep(50)
  }
  offsetMs = 100_000
  t.same(names(await get(koop.layer + QUERY, { token })), ACME, 'inside max-age the cached set still holds the key (the documented bound)')
  offsetMs = 125_000
  t.same((await get(koop.layer + QUERY, { token })).body, { error: { code: 498, message: 'Invalid token.', details: [] } },
    'past it the set is fetched again, and the remembered token is refused with it')
  t.same(names(await get(koop.layer + QUERY, { token: await arcgisToken(koop.base, issuer.clients.acme) })), ACME, 'tokens of the replacement key work')
})
