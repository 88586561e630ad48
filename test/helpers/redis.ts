// A real redis-server for a test file: its own port, directory and pid; stopped, killed and restarted on demand.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { geotoken, serverOptions } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
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

/** A plain ioredis client for a test's own reads and writes of `redis`; closed at teardown. */
export function redisClient (t: Pick<Test, 'teardown'>, redis: Pick<RedisServer, 'url'>): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.teardown(() => { client.disconnect() })
  return client
}

/** A fresh key-encryption key, as `openssl rand -base64 32` makes one. */
export const newKek = (): string => randomBytes(32).toString('base64')

export interface RedisInstance { app: FastifyInstance, config: Config, logs: string[] }

/**
 * One geotoken instance on `redis` (no seed, its own DATA_DIR for its feature store, no keys directory used):
 * several of them stand for the processes of one deployment. Closed at teardown.
 */
export async function redisInstance (t: Pick<Test, 'teardown'>, redis: Pick<RedisServer, 'url'>, env: Record<string, string>): Promise<RedisInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'geotoken-instance-'))
  const config = loadConfig({
    KEYS_DIR: join(dir, 'keys'), DATA_DIR: join(dir, 'data'), SEED_FILE: '', ISSUER: 'http://geotoken.test', LOG_LEVEL: 'info',
    STATE_STORE: 'redis', REDIS_URL: redis.url, ...env
  })
  const logs: string[] = []
  const logStream = new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } })
  const app = Fastify(serverOptions(config, { logStream }))
  t.teardown(async () => { await app.close(); rmSync(dir, { recursive: true, force: true }) })
  await app.register(geotoken, { config, deps: { logStream } })
  await app.ready()
  return { app, config, logs }
}
