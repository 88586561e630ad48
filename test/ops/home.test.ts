// Issue 14: GET / answers a small index of the entry points instead of a 404, and each entry point answers.
import t from 'tap'
import { build } from '../helpers/app.js'

t.test('GET / lists the entry points, each reachable from the issuer\'s base URL', async t => {
  const { app } = await build(t)
  const res = await app.inject({ url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const home = res.json() as Record<string, string>
  t.match(home, {
    issuer: 'http://geotoken.test',
    token_endpoint: 'http://geotoken.test/oauth/token',
    jwks_uri: 'http://geotoken.test/.well-known/jwks.json',
    metadata: 'http://geotoken.test/.well-known/oauth-authorization-server',
    features: 'http://geotoken.test/features',
    docs: 'http://geotoken.test/docs'
  })
  for (const name of ['jwks_uri', 'metadata', 'docs', 'openapi', 'health', 'ready']) {
    const path = (home[name] as string).slice('http://geotoken.test'.length)
    t.equal((await app.inject({ url: path })).statusCode, 200, `${name} (${path}) answers 200`)
  }
  t.equal((await app.inject({ url: '/features' })).statusCode, 401, 'features asks for a token')
  t.equal((await app.inject({ method: 'POST', url: '/oauth/token' })).statusCode, 400, 'the token endpoint asks for a grant')
})
