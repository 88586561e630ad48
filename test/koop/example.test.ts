// examples/koop/server.js started as docs/koop.md says, next to a running geotoken, as its own process.
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { freePort, listenIssuer } from '../helpers/net.js'
import { ACME, EXAMPLE, QUERY, arcgisToken, get, names } from '../helpers/koop.js'

const ROOT = join(import.meta.dirname, '..', '..')

t.test('node examples/koop/server.js serves a running geotoken\'s organizations, and stops on SIGTERM', async t => {
  const issuer = await listenIssuer(t)
  const port = await freePort()
  // tsx and the resolution hook stand in for `npm run build`: `geotoken/koop` is this checkout's source.
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/helpers/koop-source.js', join(EXAMPLE, 'server.js')], {
    cwd: ROOT,
    env: { ...process.env, GEOTOKEN_ISSUER: issuer.base, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += String(d) })
  child.stderr.on('data', (d: Buffer) => { output += String(d) })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  t.teardown(() => { child.kill('SIGKILL') })
  for (let i = 0; i < 300 && !output.includes('koop listening on') && child.exitCode === null; i++) await new Promise(resolve => setTimeout(resolve, 50))
  const base = `http://127.0.0.1:${port}`
  t.match(output, `koop listening on ${base}, guarded by geotoken at ${issuer.base}`, 'the documented start-up line')
  t.notMatch(output, /WARNING: No configurations found/, 'no node-config warning')

  const info = await get(`${base}/orgs/rest/info?f=json`)
  t.equal((info.body.authInfo as { tokenServicesUrl: string }).tokenServicesUrl, `${base}/orgs/rest/generateToken`, 'an http token URL for an http issuer')
  const token = await arcgisToken(`${base}/orgs`, issuer.clients.acme)
  t.same(names(await get(`${base}/orgs/rest/services/sites/FeatureServer/0${QUERY}`, { token })), ACME, 'acme\'s features')
  t.notOk(output.includes(token) || output.includes(issuer.clients.acme.secret), 'neither the token nor the secret in its output')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exits 0 on SIGTERM')
})
