// Owns a versioned JSON document in Redis (the key ring, the client registry): compare-and-set writes that announce
// themselves on a channel, and the subscription every instance keeps to that channel.
import type { Redis } from 'ioredis'
import type { Log } from './log.js'
import { redisCall } from './redis.js'
import { RedisUnavailable } from './errors.js'

/**
 * Writes `body` only if the revision is still the one the writer read, bumps it and publishes it, as one step:
 * two writers that read the same revision cannot both win, and no instance hears of a change before it is stored.
 * Returns the new revision, or 0 when another writer came first.
 */
const COMPARE_AND_SET = `
local current = tonumber(redis.call('HGET', KEYS[1], 'revision') or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
local next = current + 1
redis.call('HSET', KEYS[1], 'revision', next, 'body', ARGV[2])
redis.call('PUBLISH', ARGV[3], next)
return next
`

export interface Revisioned { revision: number, body: string }

/** One document: a hash { revision, body } at `key`, changes announced on `<key>:changed`. */
export class RedisDocument {
  readonly key: string
  readonly channel: string
  readonly #redis: Redis

  constructor (redis: Redis, key: string) {
    this.#redis = redis
    this.key = key
    this.channel = `${key}:changed`
  }

  /** The stored revision and body; null when the document was never written. */
  async read (): Promise<Revisioned | null> {
    const [revision, body] = await redisCall(async () => await this.#redis.hmget(this.key, 'revision', 'body'))
    if (revision == null || body == null) return null
    return { revision: Number(revision), body }
  }

  /** The revision alone (0: never written): one small round trip to learn whether a read is needed. */
  async revision (): Promise<number> {
    return Number(await redisCall(async () => await this.#redis.hget(this.key, 'revision')) ?? 0)
  }

  /** Stores `body` if the revision is still `expected` (0: the document must not exist); the new revision, or 0 if it lost. */
  async compareAndSet (expected: number, body: string): Promise<number> {
    return Number(await redisCall(async () => await this.#redis.eval(COMPARE_AND_SET, 1, this.key, String(expected), body, this.channel)))
  }
}

export interface ChannelHandlers {
  /** A change was announced: read the document again. */
  changed: () => void
  /** The subscription is lost: changes may be missed until `resync`. */
  lost: (err: Error) => void
  /** The subscription is back (after a reconnect): read the whole document again, as announcements may have been missed. */
  resync: () => void
}

/**
 * Subscribes to `channel` on `subscriber` (a connection of its own: a subscribed connection runs no other command).
 * After a reconnect, `resync` is called only once Redis has confirmed the new subscription, so a change made after
 * the resync's read is announced to us. Returns the function that unsubscribes.
 */
export async function watchChannel (subscriber: Redis, channel: string, handlers: ChannelHandlers, log: Log): Promise<() => void> {
  let lost = false
  const onMessage = (ch: string): void => { if (ch === channel) handlers.changed() }
  const onClose = (): void => {
    if (lost) return
    lost = true
    handlers.lost(new RedisUnavailable(`subscription to ${channel} lost: changes are not being received`))
  }
  const onReady = (): void => {
    if (!lost) return
    subscriber.subscribe(channel).then(() => {
      lost = false
      handlers.resync()
    }, (err: unknown) => { log.warn({ event: 'redis.resubscribe_failed', channel, err: { message: (err as Error).message } }, 'resubscribing failed: retried at the next reconnect') })
  }
  subscriber.on('message', onMessage)
  subscriber.on('close', onClose)
  subscriber.on('ready', onReady)
  await subscriber.subscribe(channel)
  return () => {
    subscriber.off('message', onMessage)
    subscriber.off('close', onClose)
    subscriber.off('ready', onReady)
    subscriber.unsubscribe(channel).catch(() => {})
  }
}
