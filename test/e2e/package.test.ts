// Issue 14: the remote verifier as another service installs it. docs/remote-verification.md is run as written
// (test/helpers/doctest.ts): pack geotoken-verifier, install the tarball in a new project with npm, type-check the
// documented server.ts with tsc --strict, run it with tsx against a real issuer, first without introspection, then
// with it. Only the ports (and where the new project is created) differ from the page.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listenIssuer, freePort } from '../helpers/net.js'
import { tokenFor } from '../helpers/app.js'
import { checkOutputs, failure, ROOT, runScenario, scenario } from '../helpers/doctest.js'

t.setTimeout(900_000)

t.test('the documented verifier example installs from the packed tarball, type-checks strictly and verifies a real issuer\'s tokens', { timeout: 900_000 }, async t => {
  const blocks = await scenario('verifier')
  t.ok(blocks.length >= 8, `${blocks.length} runnable blocks in docs/remote-verification.md`)
  t.ok(blocks.some(b => b.attrs.file === 'server.ts'), 'the example is one of them')

  const { base, app, clients, dataDir, keysDir } = await listenIssuer(t, { RELOAD_INTERVAL_MS: '100' })
  const token = await tokenFor(app, clients.acme)
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'geotoken-consumer-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const issuerHost = base.slice('http://'.length)

  const replace = {
    '127.0.0.1:3000': issuerHost,
    '127.0.0.1:4000': `127.0.0.1:${port}`,
    'mkdir orders-service && cd orders-service': `cd ${dir} && mkdir orders-service && cd orders-service`
  }
  const run = await runScenario(blocks, ROOT, {
    TOKEN: token, CLIENT_ID: clients.acme.id, CLIENT_SECRET: clients.acme.secret, DATA_DIR: dataDir, KEYS_DIR: keysDir, PORT: String(port)
  }, replace)
  t.equal(run.code, 0, `every block ran\n${failure(run)}`)
  t.same(checkOutputs(blocks, run, replace), [], 'each documented output was printed')

  const consumer = join(dir, 'orders-service')
  const installed = JSON.parse(await readFile(join(consumer, 'node_modules', 'geotoken-verifier', 'package.json'), 'utf8')) as { dependencies: Record<string, string>, peerDependencies: Record<string, string> }
  t.same(Object.keys(installed.dependencies).sort(), ['@fastify/error', '@fastify/jwt', 'fast-jwt', 'fastify-plugin'], 'the package depends on what the verifier imports, nothing else')
  t.same(Object.keys(installed.peerDependencies), ['fastify'], 'and uses the service\'s own Fastify')
  const modules = new Set((await readdir(join(consumer, 'node_modules'))).flatMap(n => n.startsWith('@') ? [] : [n]))
  const scoped = new Set((await readdir(join(consumer, 'node_modules', '@fastify'))).map(n => `@fastify/${n}`))
  for (const serviceOnly of ['prom-client', 'rbush', 'flatbush', 'helmet', 'typebox', '@fastify/swagger', '@fastify/swagger-ui', '@fastify/rate-limit', '@fastify/under-pressure', '@fastify/cors', '@fastify/formbody']) {
    t.notOk(modules.has(serviceOnly) || scoped.has(serviceOnly), `${serviceOnly} (the service's) is not installed`)
  }
  const lock = JSON.parse(await readFile(join(consumer, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  const production = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev !== true).length
  t.comment(`the consumer's production dependencies, fastify and the verifier included: ${production} packages`)

  // Koop is the host of geotoken/koop, not a dependency: the plugin loads and verifies with no Koop installed.
  await writeFile(join(consumer, 'koop.mjs'), `
    import { koopAuth } from 'geotoken-verifier/koop'
    const [issuer, token] = process.argv.slice(2)
    const plugin = koopAuth({ issuer, audience: issuer + '/features' })
    const req = { method: 'GET', url: '/orgs/rest/services/x/FeatureServer/0/query?token=' + token, headers: {}, query: { token }, body: {} }
    await plugin.authorize(req)
    const refused = await plugin.authorize({ ...req, query: { token: token.slice(0, -6) + 'AAAAAA' } }).catch(err => err.code)
    console.log(JSON.stringify({ type: plugin.type, org: req.geotoken.org, url: req.url, refused }))
  `)
  const koop = await promisify(execFile)(process.execPath, ['koop.mjs', base, token], { cwd: consumer })
  t.same(JSON.parse(koop.stdout), { type: 'auth', org: 'acme', url: '/orgs/rest/services/x/FeatureServer/0/query?token=[Redacted]', refused: 498 },
    'the installed Koop plugin verifies the issuer\'s token and refuses a forged one, with no Koop package present')
})
