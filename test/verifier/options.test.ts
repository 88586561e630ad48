// Issue 14: an introspection option read from unset environment variables names what is missing.
import t from 'tap'
import Fastify from 'fastify'
import geotokenVerifier, { type RemoteVerifierOptions } from '../../src/verifier/remote.js'

const base = { issuer: 'https://auth.example.com', audience: 'https://auth.example.com/features' }

t.test('introspection with an unset client secret fails at registration naming introspection.clientSecret', async t => {
  const cases: Array<[RemoteVerifierOptions['introspection'], RegExp]> = [
    [{ clientId: 'rs', clientSecret: undefined as unknown as string }, /introspection\.clientSecret is undefined: give the id and secret of a client with the tokens:introspect scope, or leave introspection out/],
    [{ clientId: '', clientSecret: 's' }, /introspection\.clientId is "":/],
    [{ clientId: undefined as unknown as string, clientSecret: undefined as unknown as string }, /introspection\.clientId is undefined and introspection\.clientSecret is undefined:/]
  ]
  for (const [introspection, message] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(geotokenVerifier, { ...base, introspection }).ready() }, { code: 'APP_VERIFIER_OPTIONS', message })
  }
})

t.test('leaving introspection out is fine, as long as no route uses requireActive', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(geotokenVerifier, { ...base, introspection: undefined })
  app.get('/orders', { onRequest: [app.authenticate] }, async () => ({}))
  await t.resolves(async () => { await app.ready() })
})
