// The key-encryption key: AES-256-GCM sealing bound to the kid, and how the operator's value is read.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { decodeKek, Kek, loadKek } from '../../src/keys/kek.js'

const key = randomBytes(32)
const kek = new Kek(key)
const secret = Buffer.from('{"kty":"RSA","d":"private"}')

t.test('a sealed secret opens with the same KEK and kid, and holds nothing of the plaintext', async t => {
  const sealed = kek.seal('kid-1', secret)
  t.same(kek.open('kid-1', sealed), secret)
  t.notMatch(JSON.stringify(sealed), 'private')
  t.not(kek.seal('kid-1', secret).iv, sealed.iv, 'a fresh IV each time')
})

t.test('the kid is authenticated: a sealed key moved onto another kid does not open', async t => {
  t.throws(() => kek.open('kid-2', kek.seal('kid-1', secret)), { code: 'APP_KEK_MISMATCH', message: /does not decrypt with the configured KEK/ })
})

t.test('altered ciphertext or tag does not open', async t => {
  const sealed = kek.seal('kid-1', secret)
  const flip = (b64: string): string => { const b = Buffer.from(b64, 'base64url'); b[0] = (b[0] as number) ^ 1; return b.toString('base64url') }
  t.throws(() => kek.open('kid-1', { ...sealed, ct: flip(sealed.ct) }), { code: 'APP_KEK_MISMATCH' })
  t.throws(() => kek.open('kid-1', { ...sealed, tag: flip(sealed.tag) }), { code: 'APP_KEK_MISMATCH' })
})

t.test('another KEK is named by its id, and the ids reveal nothing of the keys', async t => {
  const other = new Kek(randomBytes(32))
  t.not(other.id, kek.id)
  t.equal(new Kek(key).id, kek.id, 'the id is stable for one key')
  t.throws(() => other.open('kid-1', kek.seal('kid-1', secret)), { code: 'APP_KEK_MISMATCH', message: `sealed with the KEK whose id is ${kek.id}, but the configured KEK's id is ${other.id}` })
  t.notMatch(kek.id, key.toString('base64').slice(0, 8))
})

t.test('the operator gives 32 bytes in base64 or base64url, and a bad value is named, never shown', async t => {
  t.equal(decodeKek(key.toString('base64'), 'KEY_ENCRYPTION_KEY').id, kek.id)
  t.equal(decodeKek(`${key.toString('base64url')}\n`, 'KEY_ENCRYPTION_KEY').id, kek.id, 'base64url, trailing newline of a file')
  const short = randomBytes(31).toString('base64')
  t.throws(() => decodeKek(short, 'KEY_ENCRYPTION_KEY'), { code: 'APP_KEK_INVALID', message: /KEY_ENCRYPTION_KEY must hold 32 random bytes in base64.*openssl rand -base64 32/ })
  try { decodeKek(short, 'KEY_ENCRYPTION_KEY') } catch (err) { t.notMatch((err as Error).message, short) }
  await t.rejects(loadKek({ KEY_ENCRYPTION_KEY: '', KEY_ENCRYPTION_KEY_FILE: '' }), { code: 'APP_KEK_INVALID', message: /needs KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE/ })
})

t.test('during a KEK rotation several keys are given, the new one first: it seals, the others still open', async t => {
  const fresh = randomBytes(32)
  const both = decodeKek(`${fresh.toString('base64')}, ${key.toString('base64')}`, 'KEY_ENCRYPTION_KEY')
  t.same(both.ids, [new Kek(fresh).id, kek.id])
  t.same(both.open('kid-1', kek.seal('kid-1', secret)), secret, 'what the old KEK sealed opens')
  t.equal(both.seal('kid-1', secret).kek, new Kek(fresh).id, 'new seals are the new KEK\'s')
  t.equal(decodeKek(`${fresh.toString('base64')}\n${key.toString('base64')}\n`, 'KEY_ENCRYPTION_KEY_FILE=/k').id, both.id, 'one per line in a file')
  t.throws(() => decodeKek(`${fresh.toString('base64')},short`, 'KEY_ENCRYPTION_KEY'), { message: /KEY_ENCRYPTION_KEY \(entry 2 of 2\) must hold 32 random bytes/ })
  t.throws(() => new Kek(randomBytes(32)).open('kid-1', both.seal('kid-1', secret)), { message: /the configured KEK's id is/ })
  t.throws(() => decodeKek(`${randomBytes(32).toString('base64')},${randomBytes(32).toString('base64')}`, 'K').open('kid-1', kek.seal('kid-1', secret)), { message: /the configured KEKs' ids are .*, / })
})
