// The example Koop app (examples/koop) listening on loopback in the test process, and an ArcGIS client's calls.
import './koop-source.js'
import type { Server } from 'node:http'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { KoopAuthOptions } from '../../src/koop/plugin.js'

// Koop loads node-config, which warns on stderr about the ./config directory no Koop app here has.
process.env.SUPPRESS_NO_CONFIG_WARNING = 'true'

export const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'koop')

/** What the tests use of examples/koop/app.js (plain JavaScript, as a Koop user writes it). */
interface ExampleApp {
  createKoop: (options: { auth?: KoopAuthOptions, openOrg?: string, dataDir: string, cacheTtlS?: number, http?: boolean, logger?: KoopLogger }) => { server: { listen: (port: number, host: string) => Server } }
}
type KoopLogger = Record<'error' | 'warn' | 'info' | 'verbose' | 'debug' | 'silly', (...args: unknown[]) => void>

/** A winston-like logger keeping every line, errors with their stack, so tests can search them for secrets. */
export function captureLogger (): { logger: KoopLogger, lines: string[] } {
  const lines: string[] = []
  const text = (a: unknown): string => a instanceof Error ? `${a.message} ${a.stack ?? ''} ${JSON.stringify(a)}` : typeof a === 'string' ? a : JSON.stringify(a)
  const level = (name: string) => (...args: unknown[]) => { lines.push(`${name}: ${args.map(text).join(' ')}`) }
  return { logger: { error: level('error'), warn: level('warn'), info: level('info'), verbose: level('verbose'), debug: level('debug'), silly: level('silly') }, lines }
}

export interface KoopUnderTest { base: string, layer: string, logs: string[], close: () => Promise<void> }

export async function loadExample (): Promise<ExampleApp> {
  return await import(join(EXAMPLE, 'app.js')) as ExampleApp
}

/** examples/koop's app guarded by the plugin built from `auth`, on a free loopback port, stopped with the test. */
export async function listenKoop (t: Pick<Test, 'teardown'>, options: { auth?: KoopAuthOptions, openOrg?: string, cacheTtlS?: number }): Promise<KoopUnderTest> {
  const { createKoop } = await loadExample()
  const { logger, lines } = captureLogger()
  const koop = createKoop({ ...options, dataDir: join(EXAMPLE, 'data'), http: true, logger })
  return await listen(t, koop.server, lines)
}

export async function listen (t: Pick<Test, 'teardown'>, app: { listen: (port: number, host: string) => Server }, logs: string[]): Promise<KoopUnderTest> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise(resolve => server.once('listening', resolve))
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  }
  t.teardown(close)
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/orgs`
  return { base, layer: `${base}/rest/services/sites/FeatureServer/0`, logs, close }
}

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** What ArcGIS clients POST to the tokenServicesUrl of rest/info. */
export async function generateToken (base: string, username: string, password: string): Promise<Record<string, unknown>> {
  const body = new URLSearchParams({ username, password, client: 'referer', referer: 'https://maps.example.com', expiration: '60', f: 'json' })
  const res = await fetch(`${base}/rest/generateToken`, { method: 'POST', headers: FORM, body })
  if (res.status !== 200) throw new Error(`generateToken answered HTTP ${res.status}`)
  return await res.json() as Record<string, unknown>
}

/** A token from generateToken, or the ArcGIS error it answered instead. */
export async function arcgisToken (base: string, client: { id: string, secret: string }): Promise<string> {
  const answer = await generateToken(base, client.id, client.secret)
  if (typeof answer.token !== 'string') throw new Error(`generateToken refused: ${JSON.stringify(answer)}`)
  return answer.token
}

export interface Answer { status: number, body: Record<string, unknown> }

/** GET `url` (its query already built), with the token as an ArcGIS client sends it, or as a Bearer header. */
export async function get (url: string, auth?: { token: string } | { bearer: string }): Promise<Answer> {
  const target = auth !== undefined && 'token' in auth ? `${url}${url.includes('?') ? '&' : '?'}token=${auth.token}` : url
  const headers: Record<string, string> = auth !== undefined && 'bearer' in auth ? { authorization: `Bearer ${auth.bearer}` } : {}
  const res = await fetch(target, { headers })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

/** The `name` of each feature a FeatureServer query answered, sorted; throws on an ArcGIS error body. */
export function names (answer: Answer): string[] {
  const features = answer.body.features as Array<{ attributes: { name: string } }> | undefined
  if (features === undefined) throw new Error(`not a query result: ${JSON.stringify(answer.body)}`)
  return features.map(f => f.attributes.name).sort()
}

export const ACME = ['Brussels depot', 'Luxembourg plant', 'Paris office']
export const GLOBEX = ['Chicago yard', 'New York office']
export const QUERY = '/query?where=1%3D1&outFields=*&returnGeometry=false&f=json'
