// Owns connections to Redis (STATE_STORE=redis): every call has a timeout, and nothing queues while Redis is away.
import { Redis } from 'ioredis'
import { RedisUnavailable } from './errors.js'
import type { Log } from './log.js'

/** A Redis call that has not answered after this long fails (the caller answers 503 or keeps its local copy). */
export const REDIS_COMMAND_TIMEOUT_MS = 1000

/** REDIS_URL with its password replaced, for messages and logs. */
export function redactRedisUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = 'REDACTED'
    return u.toString()
  } catch {
    return '(unparseable URL)'
  }
}

/**
 * Connects to `url` and waits until Redis answers; a Redis that cannot be reached throws APP_REDIS_UNAVAILABLE
 * naming REDIS_URL (password hidden). Afterwards the client reconnects on its own, with backoff; commands sent
 * while it is away fail at once (no offline queue), and a command Redis does not answer fails after the timeout.
 */
export async function connectRedis (url: string, log: Log, role = 'commands'): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: attempt => Math.min(50 * 2 ** attempt, 1000),
    connectionName: `geotoken-${role}`
  })
  let down = false
  let lastError: string | undefined
  // Logged once per outage, not once per reconnect attempt.
  client.on('error', (err: Error) => {
    lastError = err.message
    if (down) return
    down = true
    log.error({ event: 'redis.unavailable', role, err: { message: err.message } }, `Redis at ${redactRedisUrl(url)} is unavailable`)
  })
  client.on('ready', () => {
    if (!down) return
    down = false
    log.info({ event: 'redis.recovered', role }, `Redis at ${redactRedisUrl(url)} is reachable again`)
  })
  try {
    await client.connect()
    // connect() resolves on TCP connect; a PING proves the server answers (and authenticates us).
    await client.ping()
  } catch (err) {
    client.disconnect()
    // "Connection is closed" says less than the socket error that closed it (ECONNREFUSED, ENOTFOUND, NOAUTH).
    throw new RedisUnavailable(redactRedisUrl(url), lastError ?? (err as Error).message)
  }
  return client
}
