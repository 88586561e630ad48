// A real redis-server for a test file: its own port, directory and pid; stopped, killed and restarted on demand.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import type { Test } from 'tap'
import { freePort } from './net.js'

export interface RedisServer {
  url: string
  port: number
  /** Its data directory (the append-only file is under appendonlydir/). */
  dir: string
  /** The running process, or undefined while stopped. */
  readonly process: ChildProcess | undefined
  /** Stops it: SIGTERM flushes and exits cleanly, SIGKILL loses whatever was not yet fsynced. Resolves once it is gone. */
  stop: (signal?: 'SIGTERM' | 'SIGKILL') => Promise<void>
  /** Starts it again on the same port and directory (the AOF is replayed); resolves once it accepts connections. */
  start: () => Promise<void>
  /** SIGSTOP / SIGCONT: Redis hangs without closing connections (a slow or frozen Redis). */
  pause: () => void
  resume: () => void
}

export interface RedisServerOptions {
  /** `always` (the default here: every acknowledged write is on disk) or `everysec`. */
  appendfsync?: 'always' | 'everysec'
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function accepts (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      // PING proves it is serving, not only listening (Redis answers -LOADING while it replays its AOF).
      socket.write('PING\r\n')
      socket.once('data', d => { socket.destroy(); resolve(String(d).startsWith('+PONG')) })
    })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}

/**
 * Starts redis-server in the foreground (this process owns its pid) and registers its stop with `t.teardown`.
 * Started with no config file: a system /etc/redis/redis.conf would make it a daemon on 6379.
 */
export async function startRedis (t: Pick<Test, 'teardown'>, opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'geotoken-redis-'))
  let child: ChildProcess | undefined
  let log = ''
  const start = async (): Promise<void> => {
    if (child !== undefined) throw new Error('redis-server is already running')
    const started = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'always',
      '--save', '', '--daemonize', 'no', '--logfile', ''
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    started.stdout?.on('data', (d: Buffer) => { log = (log + String(d)).slice(-4000) })
    started.stderr?.on('data', (d: Buffer) => { log = (log + String(d)).slice(-4000) })
    started.once('exit', () => { if (child === started) child = undefined })
    for (let i = 0; i < 200; i++) {
      if (await accepts(port)) return
      if (child === undefined) break
      await sleep(25)
    }
    throw new Error(`redis-server did not start on ${port}:\n${log}`)
  }
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const running = child
    if (running === undefined) return
    const exited = new Promise(resolve => running.once('exit', resolve))
    running.kill('SIGCONT')
    running.kill(signal)
    await exited
  }
  await start()
  t.teardown(async () => {
    await stop('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get process () { return child },
    stop,
    start,
    pause: () => { child?.kill('SIGSTOP') },
    resume: () => { child?.kill('SIGCONT') }
  }
}
