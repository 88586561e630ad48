import t from 'tap'
import pino from 'pino'
import { Writable } from 'node:stream'
import { generateKeyPairSync } from 'node:crypto'
import { audit } from '../../src/shared/audit.js'

function capture () {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, new Writable({ write (chunk, _e, cb) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); cb() } }))
  return { log, lines }
}

t.test('an audit line carries the event and the allowed fields only', async t => {
  const { log, lines } = capture()
  audit(log, 'token.issued', { client_id: 'acme-1', org: 'acme', kid: 'k1', jti: 'j1', ...({ access_token: 'eyJhbGciOi.eyJzdWIiOi.sig', client_secret: 's3cret' } as object) })
  t.match(lines[0], { audit: true, event: 'token.issued', client_id: 'acme-1', org: 'acme', kid: 'k1', jti: 'j1', msg: 'token.issued', level: 30 })
  t.notOk('access_token' in (lines[0] ?? {}), 'an unknown field is dropped')
  t.notOk('client_secret' in (lines[0] ?? {}), 'a secret field is dropped')
})

t.test('a token or a private key inside an allowed field is redacted', async t => {
  const { log, lines } = capture()
  // A real key generated for the test: no key material is committed.
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  audit(log, 'token.refused', { detail: 'got eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln here', reason: pem })
  t.equal(lines[0]?.detail, '[Redacted]')
  t.equal(lines[0]?.reason, '[Redacted]')
})

t.test('lockouts and emergencies are warnings', async t => {
  const { log, lines } = capture()
  audit(log, 'client.locked_out', { client_id: 'x' })
  audit(log, 'keys.emergency', { kid: 'k' })
  audit(log, 'keys.reloaded', {})
  t.same(lines.map(l => l.level), [40, 40, 30])
})
