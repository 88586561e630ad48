import t from 'tap'
import { clientsCli } from '../../scripts/clients.js'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { build, clientsFixture, form, basic, type TestClient } from '../helpers/app.js'
import { holdLock } from '../helpers/lock-worker.js'
import { serializeClients } from '../../src/clients/registry.js'
import { loadClients } from '../../src/clients/store.js'

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

const script = new URL('../../scripts/clients.ts', import.meta.url).pathname

t.test('clients disable is not blocked by a lock file left empty, or naming a live process that does not hold it', async t => {
  const { file, clients } = clientsFixture([{ org: 'acme', scopes: ['features:read'] }, { org: 'acme', scopes: ['features:read'] }])
  const dir = t.testdir({ 'clients.json': serializeClients(file), 'clients.json.lock': '' })
  const [first, second] = clients as [TestClient, TestClient]
  t.equal((await run(['disable', first.id], { DATA_DIR: dir })).code, 0, 'an empty lock file (a holder killed before it wrote)')
  await writeFile(join(dir, 'clients.json.lock'), String(process.pid))
  t.equal((await run(['disable', second.id], { DATA_DIR: dir })).code, 0, 'a lock file naming this live, unrelated process')
  t.ok((await loadClients(dir))?.clients.every(c => c.disabled_at !== undefined), 'both are disabled')
})

t.test('concurrent add-client processes each add their client: none is lost', async t => {
  const dir = t.testdir()
  const runs = await Promise.all(['a', 'b', 'c', 'd'].map(async suffix =>
    await promisify(execFile)(process.execPath, ['--import', 'tsx', script, 'add', '--org', `org-${suffix}`, '--scopes', 'features:read', '--json'], { env: { ...process.env, DATA_DIR: dir } })))
  const ids = runs.map(r => (JSON.parse(r.stdout) as { client_id: string }).client_id)
  t.same((await loadClients(dir))?.clients.map(c => c.client_id).sort(), [...ids].sort())
})

t.test('a clients command that cannot get the lock exits 1 with APP_STORE_LOCKED naming the holder', async t => {
  const dir = t.testdir()
  const holder = await holdLock(t, join(dir, 'clients.json'))
  const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, 'add', '--org', 'acme', '--scopes', 'features:read'], { env: { ...process.env, DATA_DIR: dir } })
    .then(() => ({ code: 0, stderr: '' }), (err: { code: number, stderr: string }) => err)
  t.equal(failed.code, 1)
  t.match(failed.stderr, new RegExp(`clients: APP_STORE_LOCKED .*clients\\.json is locked by another process \\(pid ${String(holder.child.pid)} on `))
})
