import t from 'tap'
import { clientsCli } from '../../scripts/clients.js'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
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
  const refused = await run(['add', '--org', 'acme', '--scopes', 'features:read', '--grants', 'password'], { DATA_DIR: dir })
  t.equal(refused.code, 1)
  t.match(refused.err, /^clients: APP_CLIENTS_INVALID .*unknown grant type "password"/, 'the code first, for a wrapper to match on (docs/errors.md)')
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

t.test('rotate-secret: the old secret works until the grace period ends, to the millisecond; both stored hashed', async t => {
  let now = Date.parse('2026-05-01T12:00:00Z')
  const { app, dataDir, clients } = await build(t, {}, { clock: () => now })
  const { acme } = clients
  const out: string[] = []
  const code = await clientsCli(['rotate-secret', acme.id, '--grace', '90m', '--json'], { DATA_DIR: dataDir }, { out: l => out.push(l), err: l => out.push(l), now: () => new Date(now) })
  t.equal(code, 0)
  const rotated = JSON.parse(out.join('')) as { client_id: string, client_secret: string, previous_secret_expires_at: string }
  t.equal(rotated.client_id, acme.id)
  t.equal(rotated.previous_secret_expires_at, '2026-05-01T13:30:00.000Z')
  await app.clients.reload()
  const ask = async (secret: string) => (await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(acme.id, secret) }, payload: 'grant_type=client_credentials' })).statusCode
  t.equal(await ask(rotated.client_secret), 200, 'the new secret works at once')
  t.equal(await ask(acme.secret), 200, 'the old one still works during the grace period')
  now = Date.parse(rotated.previous_secret_expires_at) - 1
  t.equal(await ask(acme.secret), 200, 'up to the last millisecond')
  now += 1
  t.equal(await ask(acme.secret), 401, 'and not from the moment it ends')
  t.equal(await ask(rotated.client_secret), 200, 'while the new one goes on')
  const stored = await readFile(`${dataDir}/clients.json`, 'utf8')
  t.notOk(stored.includes(rotated.client_secret) || stored.includes(acme.secret), 'neither secret is stored in clear')
  t.match(stored, /"previous_secret_hash": "[A-Za-z0-9_-]{43}"/, 'the old one is kept as a hash')
})

t.test('rotate-secret with --grace 0 ends the old secret at once; a second rotation ends the grace of the first', async t => {
  const { app, dataDir, clients } = await build(t)
  const { acme } = clients
  const rotate = async (grace: string) => JSON.parse((await run(['rotate-secret', acme.id, '--grace', grace, '--json'], { DATA_DIR: dataDir })).out) as { client_secret: string, previous_secret_expires_at: string | null }
  const ask = async (secret: string) => (await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(acme.id, secret) }, payload: 'grant_type=client_credentials' })).statusCode
  const first = await rotate('1h')
  const second = await rotate('0')
  t.equal(second.previous_secret_expires_at, null)
  await app.clients.reload()
  t.equal(await ask(second.client_secret), 200)
  t.equal(await ask(first.client_secret), 401, 'grace 0: the secret it replaced stops at once')
  t.equal(await ask(acme.secret), 401, 'and the one before that too')
  t.equal((await run(['rotate-secret', acme.id], { DATA_DIR: dataDir })).code, 2, '--grace is required: the operator chooses it')
  t.equal((await run(['rotate-secret', acme.id, '--grace', '31d'], { DATA_DIR: dataDir })).code, 2, 'at most 30 days')
  t.equal((await run(['rotate-secret', 'nobody', '--grace', '1h'], { DATA_DIR: dataDir })).code, 1)
})

t.test('disable, enable and delete a client: the token endpoint follows each step', async t => {
  const { app, dataDir, clients } = await build(t)
  const { acme } = clients
  const ask = async () => (await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(acme.id, acme.secret) }, payload: 'grant_type=client_credentials' })).statusCode
  const step = async (command: string) => {
    const res = await run([command, acme.id], { DATA_DIR: dataDir })
    t.equal(res.code, 0, `${command} succeeds`)
    await app.clients.reload()
    return await ask()
  }
  t.equal(await step('disable'), 401, 'disabled')
  t.equal(await step('enable'), 200, 'enabled again')
  t.equal(await step('delete'), 401, 'deleted')
  const listed = JSON.parse((await run(['list', '--json'], { DATA_DIR: dataDir })).out) as Array<{ client_id: string }>
  t.notOk(listed.some(c => c.client_id === acme.id), 'a deleted client is gone from the list')
  t.equal((await run(['enable', acme.id], { DATA_DIR: dataDir })).code, 1, 'and cannot be enabled again')
})
