// Real listening servers for tests where the network matters: free ports and an issuer on one.
import { createServer } from 'node:net'
import type { Test } from 'tap'
import { basic, build, form, type Built, type TestClient } from './app.js'
import type { AppDeps } from '../../src/app.js'

export async function freePort (): Promise<number> {
  return await new Promise(resolve => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => { resolve(port) })
    })
  })
}

/** The real service listening on loopback, its ISSUER being the URL it is reached at. */
export async function listenIssuer (t: Pick<Test, 'testdir' | 'teardown'>, env: Record<string, string> = {}, deps: AppDeps = {}): Promise<Built & { base: string }> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const built = await build(t, { ISSUER: base, AUDIENCE: `${base}/features`, ...env }, deps)
  await built.app.listen({ host: '127.0.0.1', port })
  return { ...built, base }
}

/** A client_credentials access token from the issuer listening at `base`, over real HTTP; any other answer throws. */
export async function tokenOverHttp (base: string, client: Pick<TestClient, 'id' | 'secret'>, scope?: string): Promise<string> {
  const res = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { ...form, ...basic(client.id, client.secret) },
    body: `grant_type=client_credentials${scope === undefined ? '' : `&scope=${encodeURIComponent(scope)}`}`
  })
  if (res.status !== 200) throw new Error(`token request answered ${res.status}: ${await res.text()}`)
  return (await res.json() as { access_token: string }).access_token
}
