// Issue 14: options typed before `--` are npm's, not the script's. No such typo may do anything, least of all rotate.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { serializeRing } from '../../src/keys/keyring.js'
import { serializeClients } from '../../src/clients/registry.js'
import { clientsFixture, testRing } from '../helpers/app.js'
import { npm } from '../helpers/npm.js'
import { swallowedByNpm } from '../../src/npm-options.js'

t.test('npm run rotate-keys --dry-run (no --) refuses, shows the right form and leaves the ring alone', async t => {
  const dir = t.testdir({ 'keyring.json': serializeRing(await testRing()) })
  const before = await readFile(`${dir}/keyring.json`, 'utf8')
  for (const typo of [['--dry-run'], ['--force'], ['-f'], ['--dry-run=true'], ['--emergency', 'abc']]) {
    const res = await npm(['run', 'rotate-keys', ...typo], { KEYS_DIR: dir })
    t.equal(res.code, 2, `npm run rotate-keys ${typo.join(' ')} exits 2`)
    t.match(res.stderr, /npm took --\S+ for itself/, 'says what happened')
    t.equal(await readFile(`${dir}/keyring.json`, 'utf8'), before, `npm run rotate-keys ${typo.join(' ')} changed nothing`)
  }
  const dry = await npm(['run', 'rotate-keys', '--dry-run'], { KEYS_DIR: dir })
  t.match(dry.stderr, 'npm run rotate-keys -- --dry-run', 'and the command to type instead')
  const right = await npm(['run', '--silent', 'rotate-keys', '--', '--dry-run'], { KEYS_DIR: dir })
  t.equal(right.code, 0, 'the right form runs')
  t.match(right.stdout, /dry run: nothing was changed/)
  t.equal(await readFile(`${dir}/keyring.json`, 'utf8'), before)
})

t.test('npm run add-client and clients with their options before -- refuse and add nothing', async t => {
  const { file } = clientsFixture([{ org: 'acme', scopes: ['features:read'] }])
  const dir = t.testdir({ 'clients.json': serializeClients(file) })
  const before = await readFile(`${dir}/clients.json`, 'utf8')
  const add = await npm(['run', 'add-client', '--org', 'acme', '--scopes', 'features:read'], { DATA_DIR: dir })
  t.equal(add.code, 2)
  t.match(add.stderr, /npm took --org --scopes=features:read for itself/)
  const json = await npm(['run', 'add-client', '--json', '--', '--org', 'acme', '--scopes', 'features:read'], { DATA_DIR: dir })
  t.equal(json.code, 2, 'a --json taken by npm too: the secret would have been printed in the wrong form')
  const id = file.clients[0]?.client_id as string
  for (const command of ['disable', 'delete']) {
    const res = await npm(['run', 'clients', command, id, '--json'], { DATA_DIR: dir })
    t.equal(res.code, 2, `clients ${command} with a swallowed --json refuses`)
  }
  t.equal(await readFile(`${dir}/clients.json`, 'utf8'), before, 'clients.json is unchanged')
})

t.test('npm start --port=4000 refuses to start on the default port', async t => {
  const dir = t.testdir()
  const res = await npm(['start', '--port=4000'], { KEYS_DIR: `${dir}/keys`, DATA_DIR: `${dir}/data`, PORT: '0' })
  t.equal(res.code, 1)
  t.match(res.stderr, /npm took --port=4000 for itself.*PORT=4000 npm start/)
  t.notMatch(res.stdout, /listening/)
})

t.test('swallowedByNpm ignores runs that npm did not start and options npm did not take', async t => {
  const options = { 'dry-run': { type: 'boolean' }, org: { type: 'string' } } as const
  t.equal(swallowedByNpm({ npm_config_dry_run: 'true' }, options, []), undefined, 'not started by npm')
  t.equal(swallowedByNpm({ npm_lifecycle_event: 'x', npm_config_dry_run: 'false', npm_config_json: 'true' }, options, []), undefined)
  t.match(swallowedByNpm({ npm_lifecycle_event: 'x', npm_config_org: 'true' }, options, ['acme']), 'npm run x -- --org ORG …')
})
