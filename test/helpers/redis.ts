// A real redis-server for tests (STATE_STORE=redis): its own port and directory, started and stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
  /** Stops the server (SIGTERM: the AOF is flushed) and waits for it to exit. */
  stop: () => Promise<void>
  /** Starts it again on the same port and directory (the AOF brings the data back). */
  start: () => Promise<void>
  /** A plain client for the test's own reads; closed at teardown. */
  client: () => Redis
}

/** Starts redis-server on a free loopback port in a temp dir; stopped (and the dir removed) at teardown. */
export async function startRedis (t: Pick<Test, 'teardown'>): Promise<RedisServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'geotoken-redis-'))
  let child: ChildProcess | undefined
  const clients: Redis[] = []
  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes',
      '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--logfile', ''], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    let out = ''
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`redis-server did not start:\n${out}`)) }, 10_000)
      proc.stdout?.on('data', (d: Buffer) => {
        out += String(d)
        if (out.includes('Ready to accept connections')) { clearTimeout(timer); resolve() }
      })
      proc.once('exit', code => { clearTimeout(timer); reject(new Error(`redis-server exited ${code}:\n${out}`)) })
    })
  }
  const stop = async (): Promise<void> => {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null) return
    const exited = new Promise(resolve => proc.once('exit', resolve))
    proc.kill('SIGTERM')
    await exited
  }
  await start()
  t.teardown(async () => {
    for (const c of clients) c.disconnect()
    await stop()
    await rm(dir, { recursive: true, force: true })
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    client: () => {
      const c = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: false, maxRetriesPerRequest: 1 })
      c.on('error', () => {})
      clients.push(c)
      return c
    }
  }
}

/** A fresh key-encryption key, as `openssl rand -base64 32` makes one. */
export const newKek = (): string => randomBytes(32).toString('base64')

export interface RedisInstance { app: FastifyInstance, config: Config, logs: string[] }

/**
 * One geotoken instance on `redis` (no seed, its own DATA_DIR for its feature store, no keys directory used):
 * several of them stand for the processes of one deployment. Closed at teardown.
 */
export async function redisInstance (t: Pick<Test, 'teardown'>, redis: Pick<RedisServer, 'url'>, env: Record<string, string>): Promise<RedisInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'geotoken-instance-'))
  const config = loadConfig({
    KEYS_DIR: join(dir, 'keys'), DATA_DIR: join(dir, 'data'), SEED_FILE: '', ISSUER: 'http://geotoken.test', LOG_LEVEL: 'info',
    STATE_STORE: 'redis', REDIS_URL: redis.url, ...env
  })
  const logs: string[] = []
  const logStream = new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } })
  const app = Fastify(serverOptions(config, { logStream }))
  t.teardown(async () => { await app.close(); await rm(dir, { recursive: true, force: true }) })
  await app.register(geotoken, { config, deps: { logStream } })
  await app.ready()
  return { app, config, logs }
}
