// `npm run …` as a user types it, in the checkout (whose dist/ tap's `before` program keeps fresh).
import { execFile } from 'node:child_process'

export const ROOT = new URL('../..', import.meta.url).pathname

/**
 * The environment a user's shell would have: without the variables of the `npm test` running us (npm_config_*,
 * lifecycle) and of tap (its NODE_OPTIONS loaders would run inside every node the commands start).
 */
export function userEnv (extra: Record<string, string> = {}): Record<string, string> {
  const own = Object.entries(process.env).filter(([k, v]) => v !== undefined && !/^(npm_(config|lifecycle|package)_|TAP_|_TAPJS_|NODE_OPTIONS$)/i.test(k))
  return { ...Object.fromEntries(own) as Record<string, string>, ...extra }
}

export interface NpmResult { code: number, stdout: string, stderr: string, ms: number }

/** Runs npm with `args` in `cwd` (the checkout by default); never throws on a non-zero exit. */
export async function npm (args: readonly string[], env: Record<string, string> = {}, cwd = ROOT, timeoutMs = 60_000): Promise<NpmResult> {
  const started = Date.now()
  return await new Promise(resolve => {
    // Through env -u: tap's process tracking adds its loader (NODE_OPTIONS) to every child it sees spawned.
    execFile('env', ['-u', 'NODE_OPTIONS', 'npm', ...args], { cwd, env: userEnv(env), timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
  })
}
