// The package another service installs: `npm pack` of this checkout, unpacked as a consumer's dependency, whose
// `geotoken/verifier` must load with only the declared dependencies present and verify a real issuer's tokens.
import t from 'tap'
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { listenIssuer } from '../helpers/net.js'
import { tokenFor } from '../helpers/app.js'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')

t.test('npm pack ships the built verifier with its types, and no keys, data, tests or benchmarks', async t => {
  // Packed from a copy built there, so the checkout's own dist/ is never touched while other tests run.
  // Not t.testdir(): the issuer below takes that one.
  const dir = await mkdtemp(join(tmpdir(), 'geotoken-pack-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const source = join(dir, 'source')
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'SECURITY.md', 'src', 'scripts']) {
    await cp(join(ROOT, entry), join(source, entry), { recursive: true })
  }
  await symlink(join(ROOT, 'node_modules'), join(source, 'node_modules'))
  // What `npm pack` runs itself (prepack empties dist/, prepare builds it), without npm's lifecycle around it.
  await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: source })
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: source })
  const [packed] = JSON.parse(stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = (packed?.files ?? []).map(f => f.path)
  for (const needed of ['dist/src/verifier/remote.js', 'dist/src/verifier/remote.d.ts', 'dist/src/koop/plugin.js', 'dist/src/koop/plugin.d.ts', 'package.json', 'README.md']) t.ok(files.includes(needed), `ships ${needed}`)
  t.same(files.filter(f => /^(keys|data|test|bench|\.ci)\//.test(f) || /(clients|keyring)\.json$/.test(f)), [], 'no keys, data, tests or benchmarks')

  // A consumer: the tarball unpacked as node_modules/geotoken, and only geotoken's declared dependencies beside it.
  const consumer = join(dir, 'consumer')
  const installed = join(consumer, 'node_modules', 'geotoken')
  await mkdir(installed, { recursive: true })
  await run('tar', ['-xzf', join(dir, packed?.filename ?? ''), '-C', installed, '--strip-components=1'])
  const { dependencies } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  for (const name of Object.keys(dependencies)) {
    await mkdir(join(consumer, 'node_modules', name, '..'), { recursive: true })
    await symlink(join(ROOT, 'node_modules', name), join(consumer, 'node_modules', name))
  }

  const { base, app, clients } = await listenIssuer(t)
  const token = await tokenFor(app, clients.acme, 'features:read')
  await writeFile(join(consumer, 'main.mjs'), `
    import Fastify from 'fastify'
    import geotokenVerifier from 'geotoken/verifier'
    const [issuer, token] = process.argv.slice(2)
    const app = Fastify()
    await app.register(geotokenVerifier, { issuer, audience: issuer + '/features' })
    app.get('/me', { onRequest: app.authenticate }, async request => ({ org: request.user.org }))
    const ok = await app.inject({ url: '/me', headers: { authorization: 'Bearer ' + token } })
    const forged = await app.inject({ url: '/me', headers: { authorization: 'Bearer ' + token.slice(0, -6) + 'AAAAAA' } })
    console.log(JSON.stringify({ ok: [ok.statusCode, ok.json()], forged: forged.statusCode }))
    await app.close()
  `)
  const result = await run(process.execPath, ['main.mjs', base, token], { cwd: consumer })
  t.same(JSON.parse(result.stdout), { ok: [200, { org: 'acme' }], forged: 401 }, 'the installed verifier accepts the issuer\'s token and refuses a forged one')

  // Koop is the host of geotoken/koop, not a dependency: the plugin loads and verifies with no Koop installed.
  await writeFile(join(consumer, 'koop.mjs'), `
    import { koopAuth } from 'geotoken/koop'
    const [issuer, token] = process.argv.slice(2)
    const plugin = koopAuth({ issuer, audience: issuer + '/features' })
    const req = { method: 'GET', url: '/orgs/rest/services/x/FeatureServer/0/query?token=' + token, headers: {}, query: { token }, body: {} }
    await plugin.authorize(req)
    const refused = await plugin.authorize({ ...req, query: { token: token.slice(0, -6) + 'AAAAAA' } }).catch(err => err.code)
    console.log(JSON.stringify({ type: plugin.type, org: req.geotoken.org, url: req.url, refused }))
  `)
  const koop = await run(process.execPath, ['koop.mjs', base, token], { cwd: consumer })
  t.same(JSON.parse(koop.stdout), { type: 'auth', org: 'acme', url: '/orgs/rest/services/x/FeatureServer/0/query?token=[Redacted]', refused: 498 },
    'the installed Koop plugin verifies the issuer\'s token and refuses a forged one, with no Koop package present')
})
