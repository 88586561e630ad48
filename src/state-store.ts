// Owns the choice STATE_STORE makes for the key ring and the client registry: files in KEYS_DIR and DATA_DIR, or
// Redis documents (private keys sealed with the KEK), for the service, the admin commands and the migration alike.
import type { Redis } from 'ioredis'
import type { Config } from './config.js'
import type { Log } from './shared/log.js'
import { loadKek } from './keys/kek.js'
import { fileRingSource, type RingSource } from './keys/store.js'
import { fileClientSource, type ClientSource } from './clients/store.js'

export interface StateStores {
  ring: RingSource
  clients: ClientSource
  /** Whether the ring and the registry are in Redis (then changes are pushed, and /ready follows Redis). */
  redis: boolean
  /** Closes the connections opened here. */
  close: () => Promise<void>
}

export interface OpenOptions {
  /** The service subscribes to changes (a second connection); a command that writes once does not. */
  subscribe: boolean
}

/**
 * Opens the stores STATE_STORE names. For Redis, the KEK is read first (a missing or malformed one stops here,
 * naming its setting, before any connection), then Redis must answer (APP_REDIS_UNAVAILABLE otherwise).
 */
export async function openStateStores (config: Config, log: Log, opts: OpenOptions): Promise<StateStores> {
  if (config.STATE_STORE !== 'redis') {
    return { ring: fileRingSource(config.KEYS_DIR), clients: fileClientSource(config.DATA_DIR), redis: false, close: async () => {} }
  }
  const kek = await loadKek(config)
  // Loaded only when chosen: the default start does not pay for the Redis client.
  const [{ closeRedis, connectRedis }, { redisRingSource }, { redisClientSource }] = await Promise.all([
    import('./shared/redis.js'), import('./keys/redis-ring.js'), import('./clients/redis-clients.js')
  ])
  const opened: Redis[] = []
  const close = async (): Promise<void> => { await Promise.all(opened.map(closeRedis)) }
  const connect = async (name: string): Promise<Redis> => {
    const { client, ready } = connectRedis(config.REDIS_URL, { timeoutMs: config.REDIS_TIMEOUT_MS, name, log })
    opened.push(client)
    await ready
    return client
  }
  try {
    const redis = await connect('geotoken:keys-clients')
    const subscriber = opts.subscribe ? await connect('geotoken:keys-clients:sub') : undefined
    return { ring: redisRingSource(redis, kek, log, subscriber), clients: redisClientSource(redis, log, subscriber), redis: true, close }
  } catch (err) {
    await close()
    throw err
  }
}
