// The real service as a child process (src/server.ts through tsx), for tests about processes: boot, crashes, signals.
import { spawn, type ChildProcess } from 'node:child_process'

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
