// The real service as a child process (src/server.ts through tsx), for tests about processes: boot, crashes, signals.
import { spawn, type ChildProcess } from 'node:child_process'
import type { Test } from 'tap'
import { serializeClients } from '../../src/clients/registry.js'
import { clientsFixture, smallSeed, TEST_KEK, type TestClient } from './app.js'
import { freePort } from './net.js'

const server = new URL('../../src/server.ts', import.meta.url).pathname

export interface ServerProcess {
  child: ChildProcess
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  output: () => { stdout: string, stderr: string }
  /** Resolves once stdout matches, or after ~15 s (the caller's assertions then say what is missing). */
  waitFor: (pattern: RegExp) => Promise<void>
  /** Resolves once the server listens; throws with its output if it exits or does not start in ~20 s. */
  ready: () => Promise<void>
}

export function startServer (env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', server], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += String(d) })
  child.stderr?.on('data', (d: Buffer) => { stderr += String(d) })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => { resolve({ code, signal }) }))
  const sleep = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 50)) }
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    waitFor: async pattern => { for (let i = 0; i < 300 && !pattern.test(stdout); i++) await sleep() },
    ready: async () => {
      for (let i = 0; i < 400 && child.exitCode === null && child.signalCode === null && !stdout.includes('geotoken listening on'); i++) await sleep()
      if (!stdout.includes('geotoken listening on')) throw new Error(`server did not start:\n${stdout}\n${stderr}`)
    }
  }
}

/** One acme client (read+write), the small seed and a free port: the environment a process test starts with. */
export async function processFixture (t: Pick<Test, 'testdir'>, extra: Record<string, string> = {}): Promise<{ client: TestClient, base: string, env: Record<string, string> }> {
  const { file, clients } = clientsFixture([{ org: 'acme', scopes: ['features:read', 'features:write'] }])
  const client = clients[0]
  if (client === undefined) throw new Error('no client')
  const dir = t.testdir({ data: { 'clients.json': serializeClients(file) }, 'seed.geojson': smallSeed() })
  const port = await freePort()
  const env = {
    PORT: String(port), HOST: '127.0.0.1', KEYS_DIR: `${dir}/keys`, DATA_DIR: `${dir}/data`, SEED_FILE: `${dir}/seed.geojson`,
    DEMO_CLIENTS: 'false', ISSUER: '', AUDIENCE: '',
    // STATE_STORE=redis keeps the key ring in Redis, sealed with a key-encryption key.
    ...(extra.STATE_STORE === 'redis' && extra.KEY_ENCRYPTION_KEY_FILE === undefined ? { KEY_ENCRYPTION_KEY: TEST_KEK } : {}),
    ...extra
  }
  return { client, base: `http://127.0.0.1:${port}`, env }
}
