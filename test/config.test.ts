import t from 'tap'
import { readFile } from 'node:fs/promises'
import { loadConfig, configTable, ConfigSchema } from '../src/config.js'

t.test('zero configuration gives the embedded defaults', async t => {
  const config = loadConfig({})
  t.match(config, { HOST: '127.0.0.1', PORT: 3000, ISSUER: 'http://127.0.0.1:3000', AUDIENCE: 'http://127.0.0.1:3000/features', KEY_SIZE: 2048, ACCESS_TOKEN_TTL_S: 900 })
  t.ok(Object.isFrozen(config))
})

t.test('values are converted from strings and unrelated variables ignored', async t => {
  const config = loadConfig({ PORT: '8080', KEY_SIZE: '4096', DEMO_CLIENTS: 'false', ISSUER: 'https://auth.example.com', PATH: '/usr/bin' })
  t.match(config, { PORT: 8080, KEY_SIZE: 4096, DEMO_CLIENTS: false, ISSUER: 'https://auth.example.com', AUDIENCE: 'https://auth.example.com/features' })
})

t.test('a bad value throws APP_CONFIG_INVALID naming the variable, the value and what is accepted', async t => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), { code: 'APP_CONFIG_INVALID', message: 'PORT="eighty" is not accepted: it must be a whole number from 0 to 65535.' })
  t.throws(() => loadConfig({ KEY_SIZE: '1024' }), { message: 'KEY_SIZE="1024" is not accepted: it must be one of 2048, 3072, 4096.' })
  t.throws(() => loadConfig({ ACCESS_TOKEN_TTL_S: '5' }), { message: 'ACCESS_TOKEN_TTL_S="5" is not accepted: it must be a whole number from 60 to 86400.' })
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), { message: /LOG_LEVEL="loud" is not accepted: it must be one of fatal, error/ })
  t.throws(() => loadConfig({ DEMO_CLIENTS: 'yes' }), { message: 'DEMO_CLIENTS="yes" is not accepted: it must be true or false.' })
})

t.test('issue 14: a variable checked by a pattern is explained in words, never by its regex', async t => {
  t.throws(() => loadConfig({ ISSUER: 'https://auth.example.com/' }), {
    message: 'ISSUER="https://auth.example.com/" is not accepted: it must be an http(s) URL with no trailing slash, query or fragment, such as https://auth.example.com'
  }, 'no trailing slash: iss must match exactly')
  const bad: Record<string, string> = { ISSUER: 'ftp://x', TRUST_PROXY: '10.0.0.0/8; evil', CORS_ORIGINS: 'https://map.example.com/', METRICS_TOKEN: 'short', REDIS_URL: 'http://redis:6379', REDIS_RATE_LIMIT_URL: 'redis.internal:6379', KEY_ENCRYPTION_KEY: 'c2hvcnQ=', DATABASE_URL: 'mysql://geotoken:secret@db/gis' }
  const patterned = Object.entries(ConfigSchema.properties).filter(([, s]) => 'pattern' in s).map(([name]) => name)
  t.same(patterned.sort(), Object.keys(bad).sort(), 'every patterned variable is tried here')
  for (const [name, value] of Object.entries(bad)) {
    const message = (() => { try { loadConfig({ [name]: value }) } catch (err) { return (err as Error).message } return '' })()
    t.match(message, `${name}=`, `${name} is named`)
    t.notMatch(message, /pattern|\^|\$\)|\[\^/, `${name}: no raw regex in "${message}"`)
    t.match(message, /such as/, `${name}: an example of an accepted value`)
  }
})

t.test('a bad secret is named but never echoed in the error', async t => {
  const secret = 'short secret\u0001'
  t.throws(() => loadConfig({ METRICS_TOKEN: secret }), { code: 'APP_CONFIG_INVALID', message: /METRICS_TOKEN=\(hidden\) is not accepted: it must be 16 or more visible ASCII characters/ })
  try { loadConfig({ METRICS_TOKEN: secret }) } catch (err) { t.notMatch((err as Error).message, 'short secret') }
})

t.test('issue 16: STATE_STORE=redis needs REDIS_URL, whose value (it may hold a password) is never echoed', async t => {
  t.throws(() => loadConfig({ STATE_STORE: 'redis' }), { code: 'APP_CONFIG_INVALID', message: /STATE_STORE=redis needs REDIS_URL/ })
  const url = 'http://:s3cret@redis:6379'
  const message = (() => { try { loadConfig({ STATE_STORE: 'redis', REDIS_URL: url }) } catch (err) { return (err as Error).message } return '' })()
  t.match(message, 'REDIS_URL=(hidden)')
  t.notMatch(message, 's3cret')
  // The key ring lives in Redis too, so a key-encryption key is part of a valid Redis configuration.
  t.match(loadConfig({ STATE_STORE: 'redis', REDIS_URL: 'redis://:s3cret@127.0.0.1:6379/0', KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') }), { STATE_STORE: 'redis', REDIS_TIMEOUT_MS: 500 })
  t.equal(loadConfig({}).STATE_STORE, 'embedded', 'the zero-config start does not need Redis')
})

t.test('issue 16: STATE_STORE=redis needs exactly one key-encryption key; the key and the URL are never echoed', async t => {
  const kek = Buffer.alloc(32, 7).toString('base64')
  t.throws(() => loadConfig({ STATE_STORE: 'redis' }), { code: 'APP_CONFIG_INVALID', message: /STATE_STORE=redis needs REDIS_URL.*needs a key-encryption key: KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE/ })
  t.throws(() => loadConfig({ STATE_STORE: 'redis', REDIS_URL: 'redis://h:6379' }), { code: 'APP_CONFIG_INVALID', message: /needs a key-encryption key/ })
  t.throws(() => loadConfig({ STATE_STORE: 'redis', REDIS_URL: 'redis://h:6379', KEY_ENCRYPTION_KEY: kek, KEY_ENCRYPTION_KEY_FILE: '/k' }), { message: /both set: set only one/ })
  t.match(loadConfig({ STATE_STORE: 'redis', REDIS_URL: 'redis://h:6379', KEY_ENCRYPTION_KEY_FILE: '/run/secrets/kek' }), { STATE_STORE: 'redis' })
  t.match(loadConfig({ KEY_ENCRYPTION_KEY: kek }), { STATE_STORE: 'embedded' }, 'ignored without Redis')
  for (const [name, value] of [['KEY_ENCRYPTION_KEY', kek.slice(0, 40)], ['REDIS_URL', 'http://:pw@cache:6379']]) {
    const message = (() => { try { loadConfig({ [name as string]: value }) } catch (err) { return (err as Error).message } return '' })()
    t.match(message, `${name as string}=(hidden)`)
    t.notMatch(message, value as string)
  }
})

t.test('docs/configuration.md lists every variable exactly as the schema defines it', async t => {
  const doc = await readFile(new URL('../docs/configuration.md', import.meta.url), 'utf8')
  t.ok(doc.includes(configTable()), 'docs/configuration.md contains the output of configTable()')
})

t.test('issue 17: FEATURE_STORE=postgis needs DATABASE_URL and FEATURE_COLLECTIONS_FILE; the URL is never echoed', async t => {
  t.throws(() => loadConfig({ FEATURE_STORE: 'postgis' }), { code: 'APP_CONFIG_INVALID', message: /FEATURE_STORE=postgis needs DATABASE_URL and FEATURE_COLLECTIONS_FILE/ })
  t.throws(() => loadConfig({ FEATURE_STORE: 'postgis', DATABASE_URL: 'postgres://u:p@h/db' }), { message: /needs FEATURE_COLLECTIONS_FILE\./ })
  const config = loadConfig({ FEATURE_STORE: 'postgis', DATABASE_URL: 'postgres://u:p@h/db', FEATURE_COLLECTIONS_FILE: 'c.json' })
  t.equal(config.DATABASE_POOL_MAX, 10)
  try { loadConfig({ DATABASE_URL: 'mysql://u:pass-word@h/db' }) } catch (err) { t.notMatch((err as Error).message, 'pass-word', 'a bad URL (with its password) is not echoed') }
  t.equal(loadConfig({}).FEATURE_STORE, 'embedded', 'the embedded store stays the default')
})
