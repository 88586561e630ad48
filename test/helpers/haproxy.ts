// A real HAProxy (Debian's haproxy) in front of several geotoken instances, for the several-instances tests: one
// process in the foreground on a free loopback port, round-robin, health-checked on /ready, stopped with the file.
import { spawn, execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { freePort } from './net.js'

const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find(p => { try { execFileSync(p, ['-v']); return true } catch { return false } }) ?? 'haproxy'

export interface Balancer {
  base: string
  /** Resolves once HAProxy sees `up` backends pass their /ready check (its stats socket says so). */
  waitUp: (up: number) => Promise<void>
}

/**
 * HAProxy balancing `backends` (base URLs such as http://127.0.0.1:4001). `retries 1` and `option redispatch` send
 * a request whose backend just died to the next one instead of answering 503 before the check notices.
 */
export async function startHaproxy (t: Pick<Test, 'testdir' | 'teardown'>, backends: string[]): Promise<Balancer> {
  const dir = t.testdir({})
  const port = await freePort()
  const socket = join(dir, 'stats.sock')
  const config = [
    'global',
    `  stats socket ${socket} level admin`,
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    // A check waits this long for /ready on a busy instance (without it, inter: 200 ms); a dead one refuses at once.
    '  timeout check 2s',
    '  retries 1',
    '  option redispatch',
    'frontend geotoken',
    `  bind 127.0.0.1:${port}`,
    '  default_backend instances',
    'backend instances',
    '  balance roundrobin',
    '  option httpchk GET /ready',
    '  http-check expect status 200',
    '  default-server inter 200ms fall 2 rise 1',
    ...backends.map((b, i) => `  server i${i} ${new URL(b).host} check`),
    ''
  ].join('\n')
  const file = join(dir, 'haproxy.cfg')
  writeFileSync(file, config)
  execFileSync(HAPROXY, ['-c', '-q', '-f', file])
  const child = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += String(d) })
  child.stderr?.on('data', (d: Buffer) => { output += String(d) })
  const exited = new Promise(resolve => child.once('exit', resolve))
  t.teardown(async () => { child.kill('SIGTERM'); await exited })

  const upCount = async (): Promise<number> => {
    const { createConnection } = await import('node:net')
    const csv = await new Promise<string>((resolve, reject) => {
      let data = ''
      const c = createConnection(socket, () => c.end('show stat\n'))
      c.on('data', d => { data += String(d) })
      c.on('end', () => { resolve(data) })
      c.on('error', reject)
    })
    return csv.split('\n').filter(l => l.startsWith('instances,i') && l.split(',')[17] === 'UP').length
  }
  return {
    base: `http://127.0.0.1:${port}`,
    waitUp: async up => {
      for (let i = 0; i < 200; i++) {
        if (child.exitCode !== null) throw new Error(`haproxy exited:\n${output}`)
        try { if (await upCount() >= up) return } catch {}
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      throw new Error(`haproxy: fewer than ${up} backends up after 10 s:\n${output}`)
    }
  }
}
