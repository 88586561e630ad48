// Owns the handshake between a benchmark case process and bench/run.ts: a free port, then "ready" over IPC.
import { createServer } from 'node:net'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** What a case tells the runner once it listens: where to send load, and anything the load needs. */
export interface Ready { port: number, [extra: string]: unknown }

export function announce (ready: Ready): void {
  if (process.send === undefined) { console.error(JSON.stringify(ready)); return }
  process.send({ ready })
}

/** A port free right now, so a service whose ISSUER names its port can be configured before it listens. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    }).on('error', reject)
  })
}

/** The checkout's root (the directory holding package.json), from the source or the compiled case alike. */
export function repoRoot (from: string = import.meta.dirname): string {
  let dir = from
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error(`no package.json above ${from}`)
    dir = up
  }
  return dir
}

/**
 * A benchmark process runs the compiled JavaScript (`npm run bench` builds it first), as `npm start` does:
 * under tsx every module is transpiled at load and esbuild's helpers run on hot paths, which is not production.
 */
export function compiled (benchFile: string): string {
  return join(repoRoot(), 'dist', 'bench', benchFile.replace(/\.ts$/, '.js'))
}
