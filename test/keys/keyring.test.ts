import t from 'tap'
import { createPublicKey } from 'node:crypto'
import { thumbprint, parseRing, serializeRing, publishedKeys, publicJwk, signingKey } from '../../src/keys/keyring.js'
import { testRing } from '../helpers/app.js'

t.test('thumbprint reproduces the RFC 7638 §3.1 example', async t => {
  const n = '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw'
  const key = createPublicKey({ key: { kty: 'RSA', n, e: 'AQAB' }, format: 'jwk' })
  t.equal(thumbprint(key), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs')
})

t.test('a ring survives serialization with its kids, states and keys', async t => {
  const ring = await testRing()
  const back = parseRing(serializeRing(ring))
  t.same(back.keys.map(k => [k.kid, k.state]), ring.keys.map(k => [k.kid, k.state]))
  t.equal(signingKey(back).kid, signingKey(ring).kid)
})

t.test('the public JWK carries only the allow-listed members', async t => {
  const jwk = publicJwk(signingKey(await testRing()))
  t.same(Object.keys(jwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use'])
})

t.test('a damaged ring file is refused with the reason', async t => {
  const good = JSON.parse(serializeRing(await testRing())) as { keys: Array<Record<string, unknown>> }
  t.throws(() => parseRing('{"version":1,"keys":[{"kid"'), /not JSON/)
  t.throws(() => parseRing(JSON.stringify({ version: 2, keys: [] })), /bad format/)
  const twoCurrent = { version: 1, keys: good.keys.map(k => ({ ...k, state: 'current' })) }
  t.throws(() => parseRing(JSON.stringify(twoCurrent)), /exactly one current/)
  const wrongKid = { version: 1, keys: good.keys.map((k, i) => i === 0 ? { ...k, kid: 'forged' } : k) }
  t.throws(() => parseRing(JSON.stringify(wrongKid)), /thumbprint/)
})

t.test('retired keys are published until their retention has passed', async t => {
  const ring = await testRing()
  const [a, b] = ring.keys as [typeof ring.keys[0], typeof ring.keys[0]]
  const withRetired = { keys: [a, { ...b, state: 'retired' as const, retiredAt: 1000 }] }
  t.equal(publishedKeys(withRetired, 1999, 1000).length, 2)
  t.equal(publishedKeys(withRetired, 2000, 1000).length, 1)
})
