// Owns connections to Redis: how every part that keeps state there connects, times out and reports Redis down
// (token state here; keys and clients may share it). Nothing here knows what is stored.
import { Redis, type RedisOptions } from 'ioredis'
import { RedisUnavailable } from './errors.js'
import type { Log } from './log.js'

export interface RedisConnectOptions {
  /** Longest wait for a connection and for any one command (ms): past it the call fails with APP_REDIS_UNAVAILABLE. */
  timeoutMs: number
  /** Shown in CLIENT LIST (e.g. `geotoken:state`, `geotoken:state:sub`), so an operator sees who is connected. */
  name: string
  /** Connection losses and recoveries are logged here, one line per change (never the URL: it may hold a password). */
  log?: Pick<Log, 'warn' | 'info'>
}

/** Reconnection delay: short, so a Redis restart costs the service about a second, and bounded. */
const retryDelayMs = (attempt: number): number => Math.min(50 * attempt, 1000)

/** The URL's host and port only: the password of `redis://:secret@host` never reaches a message or a log. */
export function redisAddress (url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port === '' ? '6379' : u.port}`
  } catch {
    return '(unparseable REDIS_URL)'
  }
}

/**
 * A client that never queues or waits beyond `timeoutMs`: while disconnected every command fails at once
 * (enableOfflineQueue off), and a connected but slow Redis fails it after the timeout (commandTimeout). It reconnects
 * by itself forever; `ready` settles once the first connection is up, or rejects with APP_REDIS_UNAVAILABLE after
 * `timeoutMs` (the client keeps trying: `quit` it if the caller gives up).
 */
export function connectRedis (url: string, opts: RedisConnectOptions): { client: Redis, ready: Promise<void> } {
  const address = redisAddress(url)
  const options: RedisOptions = {
    connectionName: opts.name,
    connectTimeout: opts.timeoutMs,
    commandTimeout: opts.timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: retryDelayMs,
    // A subscriber re-subscribes itself; its owner resynchronizes on 'ready' (see the deny-list copy).
    autoResubscribe: true,
    // Commands issued in one tick leave in one write (and Redis answers them in one): the token endpoint's
    // concurrent lookups cost one round trip and fewer system calls on both sides.
    enableAutoPipelining: true,
    lazyConnect: false
  }
  const client = new Redis(url, options)
  let up = false
  let lastError = ''
  // Without an 'error' listener ioredis prints every failed reconnection to stderr; one line per state change here.
  client.on('error', (err: Error) => {
    if (!up && err.message === lastError) return
    lastError = err.message
    if (up) opts.log?.warn({ event: 'redis.down', redis: address, connection: opts.name, err: err.message }, 'Redis connection lost: retrying')
    up = false
  })
  client.on('ready', () => {
    if (!up && lastError !== '') opts.log?.info({ event: 'redis.up', redis: address, connection: opts.name }, 'Redis connection restored')
    up = true
    lastError = ''
  })
  const ready = new Promise<void>((resolve, reject) => {
    if (client.status === 'ready') { resolve(); return }
    const timer = setTimeout(() => {
      client.off('ready', onReady)
      reject(new RedisUnavailable(`no connection to ${address} within ${opts.timeoutMs} ms${lastError === '' ? '' : ` (${lastError})`}: ` +
        'check that Redis runs there and that REDIS_URL names it'))
    }, opts.timeoutMs)
    const onReady = (): void => { clearTimeout(timer); resolve() }
    client.once('ready', onReady)
  })
  return { client, ready }
}

// Replies that mean "not now" rather than "wrong command": a restarting, read-only, busy or non-persisting Redis.
const PASSING_REPLY = /^(LOADING|READONLY|MISCONF|OOM|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS)\b/

/** True when `err` means Redis is unreachable, slow or passing-refusing (a retry later may succeed). */
export function isRedisUnavailable (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if ((err as { code?: string }).code === 'APP_REDIS_UNAVAILABLE') return true
  if (err.name === 'ReplyError') return PASSING_REPLY.test(err.message)
  // Connection errors (ECONNREFUSED, closed, not writeable while offline), command timeouts, retries exhausted.
  return true
}

/**
 * Runs one Redis call: a failure that means "Redis is unavailable" becomes APP_REDIS_UNAVAILABLE (503, retryable);
 * any other error (a script bug, a wrong type) propagates unchanged, so it is not mistaken for an outage.
 */
export async function redisCall<T> (call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (isRedisUnavailable(err) && !((err as { code?: string }).code === 'APP_REDIS_UNAVAILABLE')) {
      throw new RedisUnavailable((err as Error).message, { cause: err })
    }
    throw err
  }
}

/**
 * redisCall with a circuit breaker. A frozen Redis keeps its connections open, so only the calls tell: once one
 * fails for want of Redis, every call fails at once (APP_REDIS_UNAVAILABLE) instead of each waiting out the
 * timeout, and `probe` (a PING) runs every PROBE_MS until one succeeds, which closes the circuit again (also
 * without traffic, for readiness). It stops there: the data itself is pushed.
 */
export class RedisCalls {
  #failure: string | undefined
  #since = 0
  #probing: NodeJS.Timeout | undefined
  #closed = false
  readonly #clock: () => number
  readonly #probe: () => Promise<unknown>

  constructor (probe: () => Promise<unknown>, clock: () => number = Date.now) {
    this.#probe = probe
    this.#clock = clock
  }

  readonly run = async <T>(call: () => Promise<T>): Promise<T> => {
    this.throwIfOpen()
    try {
      const result = await redisCall(call)
      this.succeeded()
      return result
    } catch (err) {
      if ((err as { code?: string }).code === 'APP_REDIS_UNAVAILABLE') this.failed(err as Error)
      throw err
    }
  }

  /** Throws APP_REDIS_UNAVAILABLE while the circuit is open (a recent call failed and no probe has succeeded since). */
  throwIfOpen (): void {
    if (this.#failure !== undefined) throw new RedisUnavailable(`${this.#failure} (not retried until Redis answers a probe)`)
  }

  /** Records a failure seen outside `run` (e.g. in a store that reports through callbacks). */
  failed (err: Error): void {
    if (this.#failure === undefined) this.#since = this.#clock()
    this.#failure = err.message.replace(/^Redis is unavailable: /, '')
    if (this.#probing === undefined && !this.#closed) this.#probing = setTimeout(() => { void this.#reprobe() }, PROBE_MS)
  }

  succeeded (): void {
    this.#failure = undefined
    clearTimeout(this.#probing)
    this.#probing = undefined
  }

  /** Why calls are failing and for how long, or undefined when the last one succeeded. */
  get failing (): string | undefined {
    return this.#failure === undefined ? undefined : `${this.#failure} (for ${Math.round((this.#clock() - this.#since) / 1000)} s)`
  }

  close (): void {
    this.#closed = true
    clearTimeout(this.#probing)
  }

  async #reprobe (): Promise<void> {
    this.#probing = undefined
    if (this.#closed || this.#failure === undefined) return
    try {
      await redisCall(this.#probe)
      this.succeeded()
    } catch (err) {
      this.failed(err as Error)
    }
  }
}

/** How often a failing Redis is probed for readiness (ms). */
const PROBE_MS = 500

/** Closes a client without waiting on a Redis that does not answer: QUIT if it is connected, else disconnect. */
export async function closeRedis (client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await Promise.race([client.quit(), new Promise(resolve => setTimeout(resolve, 1000).unref())])
    } catch { /* closing anyway */ }
  }
  client.disconnect(false)
}
