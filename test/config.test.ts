import t from 'tap'
import { readFile } from 'node:fs/promises'
import { loadConfig, configTable } from '../src/config.js'

t.test('zero configuration gives the embedded defaults', async t => {
  const config = loadConfig({})
  t.match(config, { HOST: '127.0.0.1', PORT: 3000, ISSUER: 'http://127.0.0.1:3000', AUDIENCE: 'http://127.0.0.1:3000/features', KEY_SIZE: 2048, ACCESS_TOKEN_TTL_S: 900 })
  t.ok(Object.isFrozen(config))
})

t.test('values are converted from strings and unrelated variables ignored', async t => {
  const config = loadConfig({ PORT: '8080', KEY_SIZE: '4096', DEMO_CLIENTS: 'false', ISSUER: 'https://auth.example.com', PATH: '/usr/bin' })
  t.match(config, { PORT: 8080, KEY_SIZE: 4096, DEMO_CLIENTS: false, ISSUER: 'https://auth.example.com', AUDIENCE: 'https://auth.example.com/features' })
})

t.test('a bad value throws APP_CONFIG_INVALID naming the variable and the value', async t => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), { code: 'APP_CONFIG_INVALID', message: /PORT="eighty"/ })
  t.throws(() => loadConfig({ KEY_SIZE: '1024' }), { message: /KEY_SIZE="1024"/ })
  t.throws(() => loadConfig({ ACCESS_TOKEN_TTL_S: '5' }), { message: /ACCESS_TOKEN_TTL_S="5" must be >= 60/ })
  t.throws(() => loadConfig({ ISSUER: 'https://auth.example.com/' }), { message: /ISSUER/ }, 'no trailing slash: iss must match exactly')
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), { message: /LOG_LEVEL="loud"/ })
})

t.test('a bad secret is named but never echoed in the error', async t => {
  const secret = 'short secret\u0001'
  t.throws(() => loadConfig({ METRICS_TOKEN: secret }), { code: 'APP_CONFIG_INVALID', message: /METRICS_TOKEN=\(hidden\)/ })
  try { loadConfig({ METRICS_TOKEN: secret }) } catch (err) { t.notMatch((err as Error).message, 'short secret') }
})

t.test('the README lists every variable exactly as the schema defines it', async t => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  t.ok(readme.includes(configTable()), 'README contains the output of configTable()')
})
