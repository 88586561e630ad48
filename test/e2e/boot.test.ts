// The quick start as a user meets it: the real process, zero configuration but a port and directories.
import t from 'tap'
import { stat, readFile } from 'node:fs/promises'
import { freePort } from '../helpers/net.js'
import { startServer as start } from '../helpers/process.js'

t.test('first start generates keys and demo clients and prints a curl command that works', async t => {
  const dir = t.testdir()
  const port = await freePort()
  const proc = start({ PORT: String(port), KEYS_DIR: `${dir}/keys`, DATA_DIR: `${dir}/data` })
  t.teardown(() => { proc.child.kill('SIGKILL') })
  await proc.waitFor(/globex.*\n.*curl/)
  const { stdout } = proc.output()
  t.match(stdout, `geotoken listening on http://127.0.0.1:${port}`)
  t.equal((await stat(`${dir}/keys/keyring.json`)).mode & 0o777, 0o600)
  const [, id, secret] = /curl -s -u '([^:]+):([^']+)'/.exec(stdout) as RegExpExecArray
  const res = await fetch(`http://127.0.0.1:${port}/oauth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials'
  })
  t.equal(res.status, 200)
  t.notOk(proc.output().stdout.split('\n').filter(l => l.startsWith('{')).join('').includes(secret as string), 'no log line carries the secret')
  t.notOk((await readFile(`${dir}/data/clients.json`, 'utf8')).includes(secret as string), 'the secret is stored only hashed')
  proc.child.kill('SIGTERM')
  t.equal((await proc.exited).code, 0, 'SIGTERM closes gracefully with exit 0')
})

t.test('a bad variable stops start-up with a message naming it', async t => {
  const proc = start({ PORT: 'eighty' })
  t.equal((await proc.exited).code, 1)
  t.match(proc.output().stderr, /APP_CONFIG_INVALID|invalid configuration: PORT="eighty"/)
})

t.test('a corrupt key ring stops start-up and is left untouched', async t => {
  const dir = t.testdir({ keys: { 'keyring.json': 'not json' } })
  const proc = start({ PORT: String(await freePort()), KEYS_DIR: `${dir}/keys`, DATA_DIR: `${dir}/data` })
  t.equal((await proc.exited).code, 1)
  t.match(proc.output().stderr, /APP_KEYS_CORRUPT/)
  t.equal(await readFile(`${dir}/keys/keyring.json`, 'utf8'), 'not json')
})
