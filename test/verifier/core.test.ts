// The verification core (src/verifier/core.ts, jws.ts, rules.ts, library-codes.ts): every refusal reason is
// reachable and named, the RFC 8725 attacks are refused before or at the signature, the cache only skips work
// and the revocation hook is asked on every call. Real RSA keys, real signatures; no server needed.
import t from 'tap'
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto'
import Fastify from 'fastify'
import { TokenError } from 'fast-jwt'
import { createVerifierCore, type VerifierCoreOptions } from '../../src/verifier/core.js'
import { jwsVerifier } from '../../src/verifier/jws.js'
import { LIBRARY_CODES, libraryReason } from '../../src/verifier/library-codes.js'
import { refusalReason, TokenRefused, type RefusalReason } from '../../src/verifier/refusal.js'
import { FORBIDDEN_HEADERS } from '../../src/verifier/rules.js'
import guard from '../../src/verifier/guard.js'
import { JwksUnavailable, OAuthError } from '../../src/shared/errors.js'
import { b64, hs256, rs256, unsigned } from '../helpers/forge.js'

const rsa = (): { privateKey: KeyObject, pem: string } => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }) as string }
}
const key = rsa()
const other = rsa()
const KID = 'k1'
const ISS = 'https://auth.example'
const AUD = 'https://auth.example/features'
const nowS = (): number => Math.floor(Date.now() / 1000)

const header = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ alg: 'RS256', typ: 'at+jwt', kid: KID, ...over })
const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  iss: ISS, aud: AUD, sub: 'alice', client_id: 'app', org: 'acme', scope: 'features:read', jti: 'j1', iat: nowS(), exp: nowS() + 600, ...over
})
const sign = (h: Record<string, unknown> = {}, c: Record<string, unknown> = {}): string => rs256(header(h), claims(c), key.privateKey)
const without = (name: string): Record<string, unknown> => { const c = claims(); delete c[name]; return c }

function core (over: Partial<VerifierCoreOptions> = {}, lookups: string[] = []) {
  return createVerifierCore({
    issuer: ISS, audience: AUD, clockToleranceS: 30, maxLifetimeS: 900, clock: Date.now, cacheSize: 0,
    keys: { publicKey: kid => { lookups.push(kid); return kid === KID ? key.pem : undefined } },
    ...over
  })
}

async function reasonOf (promise: Promise<unknown>): Promise<RefusalReason | string> {
  try {
    await promise
    return 'accepted'
  } catch (err) {
    if (err instanceof TokenRefused) {
      if (err.statusCode !== 401 || err.error !== 'invalid_token') return `bad error ${err.statusCode} ${err.error}`
      return err.reason
    }
    return `not a refusal: ${String(err)}`
  }
}

t.test('a token the issuer writes passes, with its claims', async t => {
  const verified = await core()(sign())
  t.equal(verified.org, 'acme')
  t.equal(verified.sub, 'alice')
  t.equal((await core()(sign({ typ: 'application/at+JWT' }))).org, 'acme', 'typ compared as RFC 8725 §3.11 allows')
  t.equal((await core()(sign({}, { aud: ['https://other.example', AUD] }))).org, 'acme', 'an aud array naming us')
})

t.test('every refusal reason the core can give is reached, with the reason and 401 invalid_token', async t => {
  const now = nowS()
  const cases: Array<[RefusalReason, string, string, Partial<VerifierCoreOptions>?]> = [
    ['malformed', 'not a JWT', 'garbage'],
    ['malformed', 'a payload that is not an object', `${b64(header())}.${b64('"text"')}.${b64('sig')}`],
    ['malformed', 'no kid', rs256({ alg: 'RS256', typ: 'at+jwt' }, claims(), key.privateKey)],
    ['malformed', 'an empty kid', sign({ kid: '' })],
    ['malformed', 'a kid longer than 128 characters', sign({ kid: 'k'.repeat(129) })],
    ['malformed', 'a kid that is not a string', sign({ kid: 1 })],
    ['expired', 'exp in the past (beyond the tolerance)', sign({}, { iat: now - 700, exp: now - 60 })],
    ['not_yet_valid', 'nbf in the future', sign({}, { nbf: now + 300 })],
    ['issued_in_future', 'iat in the future', sign({}, { iat: now + 300, exp: now + 900 })],
    ['bad_lifetime', 'a lifetime longer than the issuer grants', sign({}, { iat: now, exp: now + 901 })],
    ['bad_signature', 'a payload changed after signing', (() => { const [h, , s] = sign().split('.'); return `${h}.${b64(claims({ org: 'globex' }))}.${s}` })()],
    ['bad_signature', 'signed with another key under our kid', rs256(header(), claims(), other.privateKey)],
    ['unsigned', 'RS256 with the signature stripped', sign().split('.').slice(0, 2).join('.') + '.'],
    ['unknown_kid', 'a kid nobody published', sign({ kid: 'k2' })],
    ['wrong_audience', 'another audience', sign({}, { aud: 'https://elsewhere.example' })],
    ['wrong_audience', 'an aud of the wrong type', sign({}, { aud: 42 })],
    ['wrong_audience', 'an empty aud array', sign({}, { aud: [] })],
    ['wrong_issuer', 'another issuer', sign({}, { iss: 'https://evil.example' })],
    ['wrong_issuer', 'an iss that is an array', sign({}, { iss: [ISS] })],
    ['wrong_type', 'typ JWT (an ID token or any other JWT)', sign({ typ: 'JWT' })],
    ['wrong_type', 'no typ', rs256({ alg: 'RS256', kid: KID }, claims(), key.privateKey)],
    ['bad_algorithm', 'alg none', unsigned({ alg: 'none', typ: 'at+jwt', kid: KID }, claims())],
    ['bad_algorithm', 'alg RS512', sign({ alg: 'RS512' })],
    ['forbidden_header', 'jku', sign({ jku: 'https://evil.example/jwks.json' })],
    ['missing_claim', 'no jti', rs256(header(), without('jti'), key.privateKey)],
    ['missing_claim', 'no org', rs256(header(), without('org'), key.privateKey)],
    ['bad_claims', 'an unknown scope', sign({}, { scope: 'admin' })],
    ['bad_claims', 'an org outside the organization syntax', sign({}, { org: '../globex' })],
    ['bad_claims', 'an exp that is a string', sign({}, { exp: String(now + 600) })],
    ['bad_claims', 'an org the registry does not know', sign(), { knownOrg: () => false }],
    ['revoked', 'a revoked token', sign(), { isRevoked: () => true }]
  ]
  const seen = new Set<RefusalReason>()
  for (const [reason, what, token, over] of cases) {
    t.equal(await reasonOf(core(over)(token)), reason, what)
    seen.add(reason)
  }
  const all: RefusalReason[] = ['missing', 'malformed', 'expired', 'not_yet_valid', 'issued_in_future', 'bad_lifetime', 'bad_signature',
    'unsigned', 'unknown_kid', 'wrong_audience', 'wrong_issuer', 'wrong_type', 'bad_algorithm', 'forbidden_header', 'missing_claim',
    'bad_claims', 'revoked', 'invalid']
  // The two the core never raises: no header at all, and an invalid_token raised outside it (the guard's last resort).
  t.same(all.filter(r => !seen.has(r)), ['missing', 'invalid'], 'every other reason was reached above')
  t.equal(refusalReason(new OAuthError('invalid_token', 'token is invalid', 401)), 'invalid')
})

t.test('the guard adds the reasons only a request can have: missing and a malformed Authorization header', async t => {
  const refused: string[] = []
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(guard, {
    issuer: ISS, audience: AUD, clockToleranceS: 30, maxLifetimeS: 900,
    keys: { publicKey: kid => kid === KID ? key.pem : undefined },
    onRefused: reason => { refused.push(reason) }
  })
  app.get('/', { onRequest: app.authenticate }, async request => ({ org: request.user.org }))
  t.equal((await app.inject({ url: '/', headers: { authorization: `Bearer ${sign()}` } })).json().org, 'acme')
  t.equal((await app.inject({ url: '/' })).statusCode, 401)
  t.equal((await app.inject({ url: '/', headers: { authorization: `Basic ${sign()}` } })).statusCode, 401)
  t.equal((await app.inject({ url: '/', headers: { authorization: `Bearer ${sign()} x` } })).statusCode, 401)
  t.equal((await app.inject({ url: '/', headers: { authorization: `Bearer ${sign({ typ: 'JWT' })}` } })).statusCode, 401, 'a wrong typ is a 401, never a 500')
  t.same(refused, ['missing', 'malformed', 'malformed', 'wrong_type'])
})

t.test('RFC 8725 attacks are refused before any key is used for them', async t => {
  t.test('alg none, with or without a signature segment, in any spelling', async t => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const lookups: string[] = []
      t.equal(await reasonOf(core({}, lookups)(unsigned({ alg, typ: 'at+jwt', kid: KID }, claims()))), 'bad_algorithm', alg)
      t.equal(await reasonOf(core({}, lookups)(unsigned({ alg, typ: 'at+jwt', kid: KID }, claims(), b64('x')))), 'bad_algorithm', `${alg} with a signature`)
      t.same(lookups, [], 'no key was looked up')
    }
  })

  t.test('HS256 with the published public key as the HMAC secret (algorithm confusion, RFC 8725 §2.1)', async t => {
    const lookups: string[] = []
    for (const secret of [key.pem, key.pem.trim(), Buffer.from(key.pem)]) {
      t.equal(await reasonOf(core({}, lookups)(hs256(header({ alg: 'HS256' }), claims(), secret))), 'bad_algorithm')
    }
    t.same(lookups, [], 'the algorithm is pinned before the key is looked up')
    // Even a key source that hands out the key for any kid does not let HS256 through.
    t.equal(await reasonOf(core({ keys: { publicKey: () => key.pem } })(hs256(header({ alg: 'HS256' }), claims(), key.pem))), 'bad_algorithm')
  })

  t.test('kid injection: the kid only ever selects among published keys', async t => {
    for (const kid of ['../../../dev/null', "' OR '1'='1", 'k1\u0000', 'k1 ', 'K1', '__proto__', 'constructor', 'http://evil.example/key.pem']) {
      const lookups: string[] = []
      t.equal(await reasonOf(core({}, lookups)(sign({ kid }))), 'unknown_kid', JSON.stringify(kid))
      t.same(lookups, [kid], 'asked verbatim, once')
    }
  })

  t.test('a header naming its own key (jku, x5u, jwk, x5c) or demanding extensions (crit, b64) is refused', async t => {
    const values: Record<string, unknown> = {
      jku: 'https://evil.example/jwks.json',
      x5u: 'https://evil.example/cert.pem',
      jwk: { kty: 'RSA', n: 'x', e: 'AQAB' },
      x5c: ['MIIB'],
      crit: ['exp'],
      b64: false
    }
    t.same([...FORBIDDEN_HEADERS].sort(), Object.keys(values).sort(), 'the one list')
    for (const name of FORBIDDEN_HEADERS) {
      const lookups: string[] = []
      t.equal(await reasonOf(core({}, lookups)(sign({ [name]: values[name] }))), 'forbidden_header', name)
      t.same(lookups, [], `${name}: no key looked up`)
    }
  })

  t.test('wrong typ, expired, nbf, wrong iss and aud, and a too-long lifetime, each under a valid signature', async t => {
    const now = nowS()
    const cases: Array<[string, string, RefusalReason]> = [
      ['typ JWT', sign({ typ: 'JWT' }), 'wrong_type'],
      ['typ at+jwt+x', sign({ typ: 'at+jwt+x' }), 'wrong_type'],
      ['expired an hour ago', sign({}, { iat: now - 4200, exp: now - 3600 }), 'expired'],
      ['expired just beyond the tolerance', sign({}, { iat: now - 600, exp: now - 31 }), 'expired'],
      ['nbf an hour ahead', sign({}, { nbf: now + 3600 }), 'not_yet_valid'],
      ['iss of another issuer', sign({}, { iss: 'https://auth.example/' }), 'wrong_issuer'],
      ['aud of another service', sign({}, { aud: 'https://auth.example/features/' }), 'wrong_audience'],
      ['a year-long token', sign({}, { iat: now, exp: now + 365 * 86400 }), 'bad_lifetime']
    ]
    for (const [what, token, reason] of cases) t.equal(await reasonOf(core()(token)), reason, what)
    t.equal(await reasonOf(core()(sign({}, { iat: now - 600, exp: now - 20 }))), 'accepted', 'within the clock tolerance')
  })

  t.test('a token wrong in several ways keeps the reason of its first fault, as before', async t => {
    const now = nowS()
    t.equal(await reasonOf(core()(sign({}, { exp: now - 120, iat: now - 700, aud: 'x' }))), 'expired', 'exp before aud')
    t.equal(await reasonOf(core()(sign({}, { aud: 'x', iss: 'y' }))), 'wrong_audience', 'aud before iss')
    t.equal(await reasonOf(core()(sign({}, { iss: 'y', scope: 'admin' }))), 'wrong_issuer', 'iss before our claim rules')
    t.equal(await reasonOf(core()(sign({ kid: 'k2', typ: 'JWT' }))), 'wrong_type', 'header before key')
  })
})

t.test('errors that are not the token\'s fault pass through: the key source unavailable, the revocation hook failing', async t => {
  const down = core({ keys: { publicKey: () => { throw new JwksUnavailable('https://auth.example/jwks', 'timeout') } } })
  await t.rejects(down(sign()), { code: 'APP_JWKS_UNAVAILABLE' })
  const failing = core({ isRevoked: () => { throw Object.assign(new Error('introspection down'), { code: 'APP_INTROSPECTION_UNAVAILABLE' }) } })
  await t.rejects(failing(sign()), { code: 'APP_INTROSPECTION_UNAVAILABLE' })
})

t.test('the cache skips the signature, never the revocation hook, and ends with the key', async t => {
  const lookups: string[] = []
  let revoked = false
  const asked: string[] = []
  const published = new Map([[KID, key.pem]])
  const verify = createVerifierCore({
    issuer: ISS, audience: AUD, clockToleranceS: 30, maxLifetimeS: 900, clock: Date.now, cacheSize: 10,
    keys: { publicKey: kid => { lookups.push(kid); return published.get(kid) } },
    isRevoked: (c, token) => { asked.push(`${c.jti}:${token.length}`); return revoked }
  })
  const token = sign()
  const first = await verify(token)
  const second = await verify(token)
  t.equal(second, first, 'the remembered (frozen) claims')
  t.ok(Object.isFrozen(second))
  t.equal(asked.length, 2, 'the hook was asked on the hit too')
  revoked = true
  t.equal(await reasonOf(verify(token)), 'revoked', 'a hit is refused once revoked')
  revoked = false
  published.set(KID, other.pem)
  t.equal(await reasonOf(verify(token)), 'bad_signature', 'a replaced key is a miss: verified again, and refused')
  published.delete(KID)
  t.equal(await reasonOf(verify(token)), 'unknown_kid', 'a withdrawn key')
})

t.test('library-codes.ts: every fast-jwt error code has a reason, and the reason comes from the code, never the message', async t => {
  t.same(Object.keys(LIBRARY_CODES).sort(), Object.values(TokenError.codes).sort(), 'the table lists exactly fast-jwt\'s codes')
  for (const [code, reason] of Object.entries(LIBRARY_CODES)) {
    t.equal(libraryReason(new TokenError(code as never, 'The aud claim value is not allowed. The token has expired. signature is invalid')), reason, code)
  }
  t.equal(libraryReason(new Error('FAST_JWT_EXPIRED: The token has expired')), undefined, 'an error of another kind is not the library\'s')
  t.equal(libraryReason(new TokenError('FAST_JWT_SOMETHING_NEW' as never, 'expired')), 'invalid', 'a code added by a later version')
})

t.test('jws.ts with another profile (the jwt-bearer grant\'s): its algorithms, audiences and texts, the algorithm pinned per key', async t => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ecPem = ec.publicKey.export({ type: 'spki', format: 'pem' }) as string
  const published: Record<string, string> = { rsa: key.pem, ec: ecPem }
  const texts = { algorithm: 'A alg', type: 'A typ', header: 'A header', kid: 'A kid', unknownKey: 'A key', expired: 'A expired', invalid: 'A invalid' }
  const verify = jwsVerifier({
    algorithms: ['RS256', 'ES256'], maxKidLength: 256, requiredClaims: ['iss', 'sub', 'aud', 'exp', 'jti'],
    issuer: 'https://idp.example', audiences: ['https://as.example/oauth/token', 'https://as.example'], clockToleranceS: 30, texts
  }, kid => published[kid])
  const now = nowS()
  const body = { iss: 'https://idp.example', sub: 'u', aud: 'https://as.example', exp: now + 60, jti: 'a1' }
  const es256 = (h: Record<string, unknown>, c: Record<string, unknown>): string => {
    const input = `${b64(h)}.${b64(c)}`
    return `${input}.${sign256(input)}`
  }
  const sign256 = (input: string): string => createSign('SHA256').update(input).sign({ key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
  const text = async (token: string): Promise<string> => await verify(token).then(() => 'accepted', (err: Error) => err.message)

  t.equal((await verify(rs256({ alg: 'RS256', kid: 'rsa' }, body, key.privateKey))).payload.sub, 'u', 'RS256, no typ required')
  t.equal((await verify(es256({ alg: 'ES256', kid: 'ec' }, { ...body, aud: ['x', 'https://as.example/oauth/token'] }))).kid, 'ec', 'ES256, the token endpoint as audience')
  t.equal(await text(es256({ alg: 'ES256', kid: 'rsa' }, body)), 'A invalid', 'ES256 naming the RSA key: refused, the algorithm is pinned per key')
  t.equal(await text(rs256({ alg: 'RS256', kid: 'ec' }, body, key.privateKey)), 'A invalid', 'RS256 naming the EC key')
  t.equal(await text(rs256({ alg: 'RS512', kid: 'rsa' }, body, key.privateKey)), 'A alg')
  t.equal(await text(rs256({ alg: 'RS256', kid: 'rsa', x5u: 'https://evil.example' }, body, key.privateKey)), 'A header')
  t.equal(await text(rs256({ alg: 'RS256', kid: 'k'.repeat(257) }, body, key.privateKey)), 'A kid')
  t.equal(await text(rs256({ alg: 'RS256', kid: 'k'.repeat(256) }, body, key.privateKey)), 'A key', 'a 256-character kid is looked up')
  t.equal(await text(rs256({ alg: 'RS256', kid: 'rsa' }, { ...body, exp: now - 60 }, key.privateKey)), 'A expired')
  t.equal(await text(rs256({ alg: 'RS256', kid: 'rsa' }, { ...body, aud: 'https://as.example/features' }, key.privateKey)), 'A invalid')
})
