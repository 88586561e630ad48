// `npm run …` as a user types it, in the checkout (whose dist/ tap's `before` program keeps fresh).
import { execFile } from 'node:child_process'

export const ROOT = new URL('../..', import.meta.url).pathname

export interface NpmResult { code: number, stdout: string, stderr: string, ms: number }

/** Runs npm with `args` in `cwd` (the checkout by default); never throws on a non-zero exit. */
export async function npm (args: readonly string[], env: Record<string, string> = {}, cwd = ROOT, timeoutMs = 60_000): Promise<NpmResult> {
  const started = Date.now()
  // The outer `npm test` exports its own npm_config_* and lifecycle variables: the inner npm must see only its own.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(config|lifecycle|package)_/i.test(k)))
  return await new Promise(resolve => {
    execFile('npm', [...args], { cwd, env: { ...clean, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
  })
}
