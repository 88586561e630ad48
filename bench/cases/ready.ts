// Owns the handshake between a benchmark case process and bench/run.ts: a free port, then "ready" over IPC.
import { createServer } from 'node:net'

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
