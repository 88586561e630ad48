// Owns every forged or abused access token (issue 6) against the real feature API: a read route and a write route.
import t, { type Test } from 'tap'
import { createPublicKey, createSign, generateKeyPair, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, tokenFor, decodePart, basic } from '../helpers/app.js'
import { b64, hs256, rs256, signRaw, unsigned } from '../helpers/forge.js'
import { rotateKeys } from '../../scripts/rotate-keys.js'
import type { OrgId } from '../../src/features/store.js'

type Tap = Test
const ITEMS = '/features/collections/sites/items'
const FEATURE = { type: 'Feature', geometry: { type: 'Point', coordinates: [7.1, 46.2] }, properties: { kind: 'forged', name: 'planted' } }
// RFC 6750 §3: auth-params, and error_description limited to %x20-21 / %x23-5B / %x5D-7E.
const CHALLENGE = /^Bearer realm="geotoken"(, (error|error_description|scope)="[\x20\x21\x23-\x5B\x5D-\x7E]*")*$/

/** Every feature of every org the seed and the tests know, so a write that slipped through is seen. */
async function storedCount (app: FastifyInstance): Promise<number> {
  let n = 0
  for (const org of ['acme', 'globex']) {
    for (const c of ['sites', 'networks']) n += (await app.features.forOrg(org as OrgId).list(c, { properties: {}, limit: 0, offset: 0 })).numberMatched
  }
  return n
}

function checkRefusal (t: Tap, res: LightMyRequestResponse, what: string, status: number, error: string | undefined): void {
  t.equal(res.statusCode, status, `${what}: ${status}`)
  const challenge = res.headers['www-authenticate'] as string
  t.match(challenge, CHALLENGE, `${what}: an RFC 6750 Bearer challenge`)
  if (error === undefined) t.equal(challenge, 'Bearer realm="geotoken"', `${what}: no error code when no credentials were presented`)
  else t.match(challenge, `error="${error}"`, `${what}: error="${error}"`)
  t.equal(res.headers['cache-control'], 'no-store', `${what}: no-store`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  const body = res.json() as { status: number, title: string, detail: string }
  t.equal(body.status, status, `${what}: problem status`)
  t.type(body.detail, 'string', `${what}: problem detail`)
  t.notMatch(res.body, /stack|at [A-Za-z.]+ \(|node_modules/, `${what}: no stack trace`)
}

/**
 * Presents `authorization` (raw header value, or none) to the read route and the write route:
 * both refuse with the challenge, and the write stores nothing.
 */
async function expectRefused (t: Tap, app: FastifyInstance, authorization: string | undefined,
  opts: { status?: number, error?: string | null, query?: string } = {}): Promise<void> {
  const status = opts.status ?? 401
  const error = opts.error === null ? undefined : (opts.error ?? (status === 403 ? 'insufficient_scope' : 'invalid_token'))
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization }
  const query = opts.query ?? ''
  const read = await app.inject({ method: 'GET', url: `${ITEMS}${query}`, headers })
  checkRefusal(t, read, 'read', status, error)
  const before = await storedCount(app)
  const write = await app.inject({ method: 'POST', url: `${ITEMS}${query}`, headers: { ...headers, 'content-type': 'application/geo+json' }, payload: FEATURE })
  checkRefusal(t, write, 'write', status, error)
  t.equal(await storedCount(app), before, 'write: nothing was stored')
}

// Overload shedding off: these tests block the event loop on purpose (1 MB tokens, deep JSON) and ask about auth only.
const ENV = { LOG_LEVEL: 'warn', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' }
const rsaPair = async () => await promisify(generateKeyPair)('rsa', { modulusLength: 2048 })
const built = await build(t, ENV)
const { app, config, clients } = built
const token = await tokenFor(app, clients.acme)
const readerToken = await tokenFor(app, clients.acmeReader)
const [h, p, s] = token.split('.') as [string, string, string]
const header = decodePart(token, 0)
const claims = decodePart(token, 1)
const signing = app.keys.view.signing.privateKey
const kid = header.kid as string
const now = Math.floor(Date.now() / 1000)
const foreign = (await rsaPair()).privateKey
const bearer = (forged: string): string => `Bearer ${forged}`
const real = (hdr: object, payload: object): string => rs256(hdr, payload, signing)

t.test('the genuine token every forgery starts from opens both routes (control)', async t => {
  const read = await app.inject({ url: ITEMS, headers: { authorization: bearer(token) } })
  t.equal(read.statusCode, 200)
  const before = await storedCount(app)
  const write = await app.inject({ method: 'POST', url: ITEMS, headers: { authorization: bearer(token), 'content-type': 'application/geo+json' }, payload: FEATURE })
  t.equal(write.statusCode, 201)
  t.equal(await storedCount(app), before + 1)
  t.equal(await app.features.forOrg('acme' as OrgId).delete('sites', write.json().id as string), undefined)
})

t.test('no Authorization header answers a bare Bearer challenge on both routes', async t => {
  await expectRefused(t, app, undefined, { error: null })
})

t.test('a read-only token cannot write: 403 insufficient_scope naming features:write, nothing stored', async t => {
  const before = await storedCount(app)
  const res = await app.inject({ method: 'POST', url: ITEMS, headers: { authorization: bearer(readerToken), 'content-type': 'application/geo+json' }, payload: FEATURE })
  checkRefusal(t, res, 'write', 403, 'insufficient_scope')
  t.match(res.headers['www-authenticate'], /scope="features:write"/)
  t.equal(await storedCount(app), before)
})

// alg none (RFC 8725 §2.1), in every spelling, with and without a signature.
for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
  t.test(`alg "${alg}" without a signature is refused`, async t => {
    await expectRefused(t, app, bearer(unsigned({ ...header, alg }, claims)))
  })
  t.test(`alg "${alg}" carrying the original signature is refused`, async t => {
    await expectRefused(t, app, bearer(unsigned({ ...header, alg }, claims, s)))
  })
}
t.test('a header without alg is refused', async t => {
  await expectRefused(t, app, bearer(real({ typ: 'at+jwt', kid }, claims)))
})

// RS256 → HS256 key confusion with each published key, in every form an attacker can fetch or derive.
const jwks = JSON.parse(app.keys.view.jwks.body) as { keys: Array<Record<string, string>> }
t.ok(jwks.keys.length >= 2, 'the JWKS publishes the current and the next key')
for (const jwk of jwks.keys) {
  const pub: KeyObject = createPublicKey({ key: jwk, format: 'jwk' })
  const state = jwk.kid === kid ? 'current' : 'next'
  const spki = pub.export({ format: 'pem', type: 'spki' }) as string
  const forms: Record<string, string | Buffer> = {
    'SPKI PEM': spki,
    'SPKI PEM without its final newline': spki.trimEnd(),
    'PKCS#1 PEM': pub.export({ format: 'pem', type: 'pkcs1' }) as string,
    'SPKI DER bytes': pub.export({ format: 'der', type: 'spki' }),
    'JWK as published': JSON.stringify(jwk),
    'whole JWKS document': app.keys.view.jwks.body
  }
  for (const [form, secret] of Object.entries(forms)) {
    t.test(`HS256 signed with the ${state} key's ${form} as the HMAC secret is refused`, async t => {
      await expectRefused(t, app, bearer(hs256({ ...header, alg: 'HS256', kid: jwk.kid }, claims, secret)))
    })
  }
}

t.test('signature stripped (empty third segment) is refused', async t => {
  await expectRefused(t, app, bearer(`${h}.${p}.`))
})
t.test('signature stripped (two segments) is refused', async t => {
  await expectRefused(t, app, bearer(`${h}.${p}`))
})

// Payload tampered, original signature kept.
t.test('payload tampered with the original signature (org switched) is refused', async t => {
  await expectRefused(t, app, bearer(`${h}.${b64({ ...claims, org: 'globex' })}.${s}`))
})
t.test('payload tampered with the original signature (scope raised on a read-only token) is refused', async t => {
  const [rh, , rs] = readerToken.split('.') as [string, string, string]
  await expectRefused(t, app, bearer(`${rh}.${b64({ ...decodePart(readerToken, 1), scope: 'features:read features:write' })}.${rs}`))
})
t.test('payload tampered with the original signature (exp extended) is refused', async t => {
  await expectRefused(t, app, bearer(`${h}.${b64({ ...claims, exp: (claims.exp as number) + 3600 })}.${s}`))
})

t.test('a token signed by a foreign key reusing a real kid is refused', async t => {
  await expectRefused(t, app, bearer(rs256(header, claims, foreign)))
})

t.test('an embedded jwk header naming the attacker\'s key is refused (CVE-2018-0114)', async t => {
  const jwk = foreign.export({ format: 'jwk' })
  await expectRefused(t, app, bearer(rs256({ ...header, jwk: { kty: jwk.kty, n: jwk.n, e: jwk.e } }, claims, foreign)))
})
t.test('an embedded jwk header on a token signed by the real key is refused', async t => {
  const jwk = createPublicKey(signing).export({ format: 'jwk' })
  await expectRefused(t, app, bearer(real({ ...header, jwk }, claims)))
})
t.test('an x5c header is refused', async t => {
  await expectRefused(t, app, bearer(real({ ...header, x5c: ['MIIB'] }, claims)))
})

// jku / x5u: the attacker serves its own JWKS; the service must never fetch it.
t.test('jku and x5u headers pointing at an attacker-served JWKS are refused and never fetched', async t => {
  const attacker = await rsaPair()
  const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker-key', alg: 'RS256', use: 'sig' }
  const fetched: string[] = []
  const server: Server = createServer((req, res) => {
    fetched.push(req.url ?? '')
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [attackerJwk, { ...attackerJwk, kid }] }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const probe = await fetch(`${base}/probe`)
  t.equal(probe.status, 200, 'the attacker server answers (so a fetch would be seen)')
  fetched.length = 0
  const cases: Record<string, string> = {
    'jku with the attacker\'s kid': rs256({ ...header, kid: 'attacker-key', jku: `${base}/jwks.json` }, claims, attacker.privateKey),
    'jku with a real kid': rs256({ ...header, jku: `${base}/jwks.json` }, claims, attacker.privateKey),
    'jku on a token signed by the real key': real({ ...header, jku: `${base}/jwks.json` }, claims),
    'x5u with the attacker\'s kid': rs256({ ...header, kid: 'attacker-key', x5u: `${base}/cert.pem` }, claims, attacker.privateKey),
    'x5u with a real kid': rs256({ ...header, x5u: `${base}/cert.pem` }, claims, attacker.privateKey)
  }
  for (const [name, forged] of Object.entries(cases)) {
    await t.test(`${name} is refused`, async t => { await expectRefused(t, app, bearer(forged)) })
  }
  await new Promise(resolve => setTimeout(resolve, 200))
  t.same(fetched, [], 'the attacker\'s URLs were never fetched')
})

// kid: path traversal, injection text, unknown, missing, wrong type.
const kidCases: Record<string, unknown> = {
  'path traversal': '../../../../etc/passwd',
  'path traversal to keyring.json': '../keys/keyring.json',
  'SQL injection text': "' OR '1'='1' --",
  'shell injection text': '$(cat /etc/passwd)',
  'a NUL byte after the real kid': `${kid}\u0000`,
  'the real kid with a trailing space': `${kid} `,
  'a prototype name (__proto__)': '__proto__',
  'a prototype name (constructor)': 'constructor',
  'a very long string': 'k'.repeat(10_000),
  'a number': 1,
  'an object': { kid }
}
for (const [name, value] of Object.entries(kidCases)) {
  t.test(`kid that is ${name}, signed by the real key, is refused`, async t => {
    await expectRefused(t, app, bearer(real({ ...header, kid: value }, claims)))
  })
}
t.test('kid pointing at /dev/null with HS256 and an empty secret is refused', async t => {
  await expectRefused(t, app, bearer(hs256({ ...header, alg: 'HS256', kid: '/dev/null' }, claims, '')))
})
t.test('an unknown kid, signed by the real key, is refused', async t => {
  await expectRefused(t, app, bearer(real({ ...header, kid: 'not-a-kid' }, claims)))
})
t.test('a missing kid, signed by the real key, is refused', async t => {
  await expectRefused(t, app, bearer(real({ alg: 'RS256', typ: 'at+jwt' }, claims)))
})

// Claims, each signed by the real key so that only the claim check can refuse them.
const claimCases: Record<string, object> = {
  'expired': { ...claims, iat: now - 7200, exp: now - 3600 },
  'nbf in the future': { ...claims, nbf: now + 3600 },
  'iat far in the future': { ...claims, iat: now + 3600, exp: now + 3600 + 60 },
  'wrong iss': { ...claims, iss: 'https://evil.example' },
  'iss with a trailing slash': { ...claims, iss: `${config.ISSUER}/` },
  'wrong aud': { ...claims, aud: 'https://other.example' },
  'aud an array without ours': { ...claims, aud: ['https://other.example'] },
  'no exp': { ...claims, exp: undefined },
  'no iat': { ...claims, iat: undefined },
  'lifetime longer than the issuer grants': { ...claims, exp: now + config.ACCESS_TOKEN_TTL_S * 10 },
  'org not a string': { ...claims, org: ['acme', 'globex'] },
  'no org': { ...claims, org: undefined },
  'scope not a string': { ...claims, scope: ['features:read', 'features:write'] }
}
for (const [name, payload] of Object.entries(claimCases)) {
  t.test(`a token with ${name} is refused`, async t => { await expectRefused(t, app, bearer(real(header, payload))) })
}

for (const typ of ['JWT', 'jwt', 'application/jwt', 'at+jwt; charset=utf-8', undefined]) {
  t.test(`typ ${typ === undefined ? 'missing' : JSON.stringify(typ)} instead of at+jwt is refused`, async t => {
    await expectRefused(t, app, bearer(real({ ...header, typ }, claims)))
  })
}

t.test('an unknown crit header is refused', async t => {
  await expectRefused(t, app, bearer(real({ ...header, crit: ['exp2'], exp2: 1 }, claims)))
})
t.test('b64: false with a detached unencoded payload, signed by the real key, is refused (RFC 7797)', async t => {
  const hdr = b64({ ...header, b64: false, crit: ['b64'] })
  // RFC 7797 §3: the signing input is the encoded header, a dot and the raw payload bytes.
  const signature = createSign('RSA-SHA256').update(`${hdr}.${JSON.stringify(claims)}`).sign(signing).toString('base64url')
  await expectRefused(t, app, bearer(`${hdr}..${signature}`))
})
t.test('b64: false without crit, signed over the encoded payload, is refused', async t => {
  await expectRefused(t, app, bearer(real({ ...header, b64: false }, claims)))
})

// Duplicate JSON keys: a parser differential must not pick an algorithm or an org the signature did not cover.
t.test('a header with duplicate alg keys (RS256 then HS256), HMAC-signed with the PEM, is refused', async t => {
  const pem = createPublicKey(signing).export({ format: 'pem', type: 'spki' }) as string
  await expectRefused(t, app, bearer(signRaw(`{"alg":"RS256","typ":"at+jwt","kid":${JSON.stringify(kid)},"alg":"HS256"}`, JSON.stringify(claims), { hmac: pem })))
})
t.test('a header with duplicate alg keys (HS256 then RS256), HMAC-signed with the PEM, is refused', async t => {
  const pem = createPublicKey(signing).export({ format: 'pem', type: 'spki' }) as string
  await expectRefused(t, app, bearer(signRaw(`{"alg":"HS256","typ":"at+jwt","kid":${JSON.stringify(kid)},"alg":"RS256"}`, JSON.stringify(claims), { hmac: pem })))
})
t.test('a payload with a duplicate org key and the original signature is refused', async t => {
  const dup = `${JSON.stringify(claims).slice(0, -1)},"org":"globex"}`
  await expectRefused(t, app, bearer(`${h}.${b64(dup)}.${s}`))
})
t.test('a payload with a duplicate org key signed by a foreign key under a real kid is refused', async t => {
  const dup = `${JSON.stringify(claims).slice(0, -1)},"org":"globex"}`
  await expectRefused(t, app, bearer(signRaw(JSON.stringify(header), dup, { rsa: foreign })))
})

// Encodings.
const encodingCases: Record<string, string> = {
  'a non-base64url character in the payload': `${h}.${p}!.${s}`,
  'standard base64 "+" and "/" in the signature': `${h}.${p}.${s.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(s) ? '' : '+'}`,
  'base64 padding on the signature': `${h}.${p}.${s}==`,
  'base64 padding on the header': `${h}=.${p}.${s}`,
  'a percent-encoded segment': `${h}.${p}.${encodeURIComponent(`${s}=`)}`,
  'an extra fourth segment': `${h}.${p}.${s}.${s}`,
  'a trailing dot': `${h}.${p}.${s}.`,
  'five segments like a JWE': `${h}.${p}.${s}.${s}.${s}`,
  'an empty header segment': `.${p}.${s}`,
  'an empty payload segment': `${h}..${s}`,
  'only dots': '..',
  'garbage': 'not.a.jwt'
}
for (const [name, forged] of Object.entries(encodingCases)) {
  t.test(`a token with ${name} is refused`, async t => { await expectRefused(t, app, bearer(forged)) })
}

// Whitespace: light-my-request hands the header to the guard verbatim (a real HTTP parser trims only the ends).
const whitespaceCases: Record<string, string> = {
  'a trailing space': `Bearer ${token} `,
  'a trailing newline': `Bearer ${token}\n`,
  'a leading space': ` Bearer ${token}`,
  'a space inside the token': `Bearer ${h}. ${p}.${s}`,
  'a newline inside the token': `Bearer ${h}.${p}\n.${s}`
}
for (const [name, value] of Object.entries(whitespaceCases)) {
  t.test(`an Authorization header with ${name} is refused`, async t => { await expectRefused(t, app, value) })
}

t.test('a 1 MB token is refused', async t => {
  const big = `${h}.${b64({ ...claims, pad: 'x'.repeat(1 << 20) })}.${s}`
  t.ok(big.length > 1_000_000)
  await expectRefused(t, app, bearer(big))
})
t.test('deeply nested claims (100,000 levels) are refused without a crash', async t => {
  const depth = 100_000
  const nested = `${JSON.stringify(claims).slice(0, -1)},"deep":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`
  await expectRefused(t, app, bearer(signRaw(JSON.stringify(header), nested, { rsa: foreign })))
})
t.test('deeply nested arrays in the header, under a real kid, are refused without a crash', async t => {
  const depth = 100_000
  const hdr = `${JSON.stringify(header).slice(0, -1)},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`
  await expectRefused(t, app, bearer(signRaw(hdr, JSON.stringify(claims), { rsa: foreign })))
})

// Odd spellings of the scheme (RFC 6750 §2.1: "Bearer" 1*SP b64token).
const spellings: Record<string, string> = {
  'Basic instead of Bearer': `Basic ${token}`,
  'Bearer with no token': 'Bearer',
  'Bearer and a space only': 'Bearer ',
  'a second word after the token': `Bearer ${token} extra`,
  'a tab instead of a space': `Bearer\t${token}`,
  'the token without a scheme': token,
  'the token in quotes': `Bearer "${token}"`,
  'a colon after Bearer': `Bearer:${token}`,
  'Bearer glued to the token': `Bearer${token}`,
  'Token as the scheme': `Token ${token}`,
  'JWT as the scheme': `JWT ${token}`,
  'two Bearer credentials in one header': `Bearer ${token}, Bearer ${token}`,
  'the scheme in Cyrillic letters that look alike': `Веаrer ${token}`
}
for (const [name, value] of Object.entries(spellings)) {
  t.test(`Authorization with ${name} is refused`, async t => {
    await expectRefused(t, app, value.includes('В') ? Buffer.from(value, 'utf8').toString('latin1') : value)
  })
}

t.test('a genuine token in the query string is never read (bare challenge, no error code)', async t => {
  await expectRefused(t, app, undefined, { error: null, query: `?access_token=${token}` })
})
t.test('a genuine token in a form body (RFC 6750 §2.2) is never read', async t => {
  const before = await storedCount(app)
  const res = await app.inject({ method: 'POST', url: ITEMS, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `access_token=${token}` })
  checkRefusal(t, res, 'write', 401, undefined)
  t.equal(await storedCount(app), before)
})
t.test('a genuine token in a cookie is never read', async t => {
  const res = await app.inject({ url: ITEMS, headers: { cookie: `access_token=${token}; token=${token}` } })
  checkRefusal(t, res, 'read', 401, undefined)
})

// Keys removed in an emergency: the running service drops them at its next reload (polled, not triggered here).
t.test('a token signed by a key removed with rotate-keys --emergency is refused after the reload', async t => {
  const mine = await build(t, { ...ENV, RELOAD_INTERVAL_MS: '100' })
  const victimToken = await tokenFor(mine.app, mine.clients.acme)
  const victim = decodePart(victimToken, 0).kid as string
  const nextKey = mine.app.keys.view.ring.keys.find(k => k.state === 'next')
  if (nextKey === undefined) throw new Error('the test ring has a next key')
  const stolenNext = rs256({ ...decodePart(victimToken, 0), kid: nextKey.kid }, decodePart(victimToken, 1), nextKey.privateKey)
  for (const tok of [victimToken, stolenNext]) {
    t.equal((await mine.app.inject({ url: ITEMS, headers: { authorization: bearer(tok) } })).statusCode, 200, 'accepted before the emergency')
  }
  const io = { out: () => {}, err: () => {}, now: Date.now }
  t.equal(await rotateKeys(['--emergency', victim], { KEYS_DIR: mine.keysDir }, io), 0, 'the current key is removed')
  const deadline = Date.now() + 5000
  while (mine.app.keys.publicKey(victim) !== undefined && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(mine.app.keys.publicKey(victim), undefined, 'the service dropped the key on its own reload')
  await expectRefused(t, mine.app, bearer(victimToken))
  const fresh = await tokenFor(mine.app, mine.clients.acme)
  t.not(decodePart(fresh, 0).kid, victim, 'new tokens are signed by the promoted key')
  t.equal((await mine.app.inject({ url: ITEMS, headers: { authorization: bearer(fresh) } })).statusCode, 200)

  // The promoted key is then compromised too: a token signed with it stops verifying as well.
  t.equal(await rotateKeys(['--emergency', nextKey.kid], { KEYS_DIR: mine.keysDir }, io), 0, 'the promoted key is removed')
  await mine.app.keys.reload()
  await expectRefused(t, mine.app, bearer(stolenNext))
})

t.test('a revoked token is refused on both routes; another client cannot revoke it', async t => {
  const fresh = await tokenFor(app, clients.acme)
  const revoke = async (by: typeof clients.acme) => await app.inject({
    method: 'POST', url: '/oauth/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic(by.id, by.secret) }, payload: `token=${fresh}`
  })
  // The first use also primes any verified-token cache, which must not outlive the revocation.
  t.equal((await app.inject({ url: ITEMS, headers: { authorization: bearer(fresh) } })).statusCode, 200, 'valid before')
  t.equal((await revoke(clients.globex)).statusCode, 200, 'another client\'s revocation is answered 200 (RFC 7009 §2.2)...')
  t.equal((await app.inject({ url: ITEMS, headers: { authorization: bearer(fresh) } })).statusCode, 200, '...and changes nothing')
  t.equal((await revoke(clients.acme)).statusCode, 200, 'the owner revokes it')
  await expectRefused(t, app, bearer(fresh))
  t.equal((await app.inject({ url: ITEMS, headers: { authorization: bearer(token) } })).statusCode, 200, 'other tokens of the client still work')
})

// Issue 13: claims the issuer never issues, signed by its own current key (a leaked key, a bug, a future grant).
const neverIssued: Record<string, object> = {
  'an org that is not an organization name': { ...claims, org: 'Acme Corp' },
  'an org with a path in it': { ...claims, org: '../globex' },
  'an org the registry does not know': { ...claims, org: 'initech' },
  'an unknown scope next to a known one': { ...claims, scope: 'features:read features:admin' },
  'a scope from a future grant': { ...claims, scope: 'features:delete' },
  'an empty scope': { ...claims, scope: '' },
  'a scope with a doubled space': { ...claims, scope: 'features:read  features:write' }
}
const badClaims = async (): Promise<number> => (await app.metrics.verificationFailures.get()).values.find(v => v.labels.reason === 'bad_claims')?.value ?? 0
for (const [name, payload] of Object.entries(neverIssued)) {
  t.test(`a token with ${name}, signed by the real key, is refused as bad_claims and introspects inactive`, async t => {
    const forged = real(header, { ...payload, jti: `never-issued-${name.length}-${Math.random()}` })
    const before = await badClaims()
    await expectRefused(t, app, bearer(forged))
    t.equal(await badClaims(), before + 2, 'both refusals counted with reason bad_claims')
    const res = await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic(clients.resourceServer.id, clients.resourceServer.secret) }, payload: `token=${encodeURIComponent(forged)}` })
    t.same(res.json(), { active: false }, 'introspection: inactive')
  })
}
