import t from 'tap'
import { clientsCli } from '../../scripts/clients.js'
import { build, form, basic } from '../helpers/app.js'

async function run (argv: string[], env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const code = await clientsCli(argv, env, { out: l => out.push(l), err: l => err.push(l), now: () => new Date() })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

t.test('add-client creates a client the running service accepts without a restart, then disable stops it', async t => {
  const { app, dataDir } = await build(t)
  const added = await run(['add', '--org', 'initech', '--scopes', 'features:read', '--json'], { DATA_DIR: dataDir })
  t.equal(added.code, 0)
  const { client_id: id, client_secret: secret } = JSON.parse(added.out) as { client_id: string, client_secret: string }
  t.match(secret, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
  await app.clients.reload()
  const ask = async () => await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(id, secret) }, payload: 'grant_type=client_credentials' })
  const ok = await ask()
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().scope, 'features:read')
  const listed = await run(['list', '--json'], { DATA_DIR: dataDir })
  t.notMatch(listed.out, /secret/, 'list never shows secrets or hashes')
  t.match(listed.out, /initech/)
  t.equal((await run(['disable', id], { DATA_DIR: dataDir })).code, 0)
  await app.clients.reload()
  t.equal((await ask()).statusCode, 401)
})

t.test('add-client rejects bad input with a clear message', async t => {
  const dir = t.testdir()
  t.match((await run(['add', '--org', 'Bad Org', '--scopes', 'features:read'], { DATA_DIR: dir })).err, /org "Bad Org" must match/)
  t.match((await run(['add', '--org', 'acme', '--scopes', 'admin'], { DATA_DIR: dir })).err, /unknown scope "admin"/)
  t.equal((await run(['add', '--org', 'acme'], { DATA_DIR: dir })).code, 2)
  t.equal((await run(['disable', 'nobody'], { DATA_DIR: dir })).code, 1)
})
