// The quick start as a user meets it: the real process, zero configuration but a port and directories.
import t from 'tap'
import { stat, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { freePort } from '../helpers/net.js'
import { startServer as start } from '../helpers/process.js'

t.test('first start generates keys and demo clients whose secrets go to a 0600 file, never to stdout', async t => {
  const dir = t.testdir()
  const port = await freePort()
  const proc = start({ PORT: String(port), KEYS_DIR: `${dir}/keys`, DATA_DIR: `${dir}/data` })
  t.teardown(() => { proc.child.kill('SIGKILL') })
  await proc.waitFor(/demo clients for acme and globex/)
  const { stdout } = proc.output()
  t.match(stdout, `geotoken listening on http://127.0.0.1:${port} (pid ${proc.child.pid}; stop it with Ctrl-C or kill ${proc.child.pid})`)
  t.match(stdout, `their ids and secrets are in ${dir}/data/demo-credentials.json (mode 0600)`)
  t.equal((await stat(`${dir}/keys/keyring.json`)).mode & 0o777, 0o600)
  t.equal((await stat(`${dir}/data/demo-credentials.json`)).mode & 0o777, 0o600, 'the credentials file is private')
  const credentials = JSON.parse(await readFile(`${dir}/data/demo-credentials.json`, 'utf8')) as Record<string, { client_id: string, client_secret: string }>
  t.same(Object.keys(credentials), ['acme', 'globex'])
  const { client_id: id, client_secret: secret } = credentials.acme as { client_id: string, client_secret: string }
  const res = await fetch(`http://127.0.0.1:${port}/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials'
  })
  t.equal(res.status, 200)
  const { stdout: all, stderr } = proc.output()
  for (const c of Object.values(credentials)) {
    t.notOk(all.includes(c.client_secret) || stderr.includes(c.client_secret), `no output line carries ${c.client_id}'s secret`)
  }
  t.notOk((await readFile(`${dir}/data/clients.json`, 'utf8')).includes(secret), 'the secret is stored only hashed in clients.json')
  proc.child.kill('SIGTERM')
  t.equal((await proc.exited).code, 0, 'SIGTERM closes gracefully with exit 0')
})

t.test('a port in use stops start-up with a message naming PORT and HOST', async t => {
  const dir = t.testdir()
  const blocker = createServer().listen(0, '127.0.0.1')
  await once(blocker, 'listening')
  t.teardown(() => { blocker.close() })
  const port = (blocker.address() as { port: number }).port
  const proc = start({ PORT: String(port), KEYS_DIR: `${dir}/keys`, DATA_DIR: `${dir}/data` })
  t.equal((await proc.exited).code, 1)
  t.match(proc.output().stderr, `geotoken: port ${port} on 127.0.0.1 is already in use (another geotoken?). Stop that process, or choose another port with PORT (and the interface with HOST), e.g. PORT=${port + 1} npm start`)
  t.notMatch(proc.output().stderr, /\n\s+at /, 'no stack trace')
})

t.test('a bad variable stops start-up with a message naming it', async t => {
  const proc = start({ PORT: 'eighty' })
  t.equal((await proc.exited).code, 1)
  t.match(proc.output().stderr, 'geotoken: invalid configuration: PORT="eighty" is not accepted: it must be a whole number from 0 to 65535.')
})

t.test('a corrupt key ring stops start-up and is left untouched', async t => {
  const dir = t.testdir({ keys: { 'keyring.json': 'not json' } })
  const proc = start({ PORT: String(await freePort()), KEYS_DIR: `${dir}/keys`, DATA_DIR: `${dir}/data` })
  t.equal((await proc.exited).code, 1)
  t.match(proc.output().stderr, /APP_KEYS_CORRUPT/)
  t.equal(await readFile(`${dir}/keys/keyring.json`, 'utf8'), 'not json')
})
