// Owns the Redis deny-list and this instance's local copy of it: additions go to Redis (the durable, shared list),
// lookups never leave the process. The copy is fed by pub/sub and reloaded whole after every (re)connection.
import type { Redis } from 'ioredis'
import { redisCall, type RedisCalls } from '../shared/redis.js'
import type { Log } from '../shared/log.js'
import { MemoryExpiringSet } from './expiring-set.js'
import { parseDenied, type StateKeys } from './redis-scripts.js'
import type { DenyList } from './state.js'

/** How often a failed resynchronization is retried while the subscriber is connected (ms). */
const RESYNC_RETRY_MS = 200

/**
 * The guard asks `has` on every request, so it answers from memory: a Redis outage never slows or fails a
 * verification. A revocation anywhere reaches this copy through the channel in milliseconds; a copy that was
 * disconnected (and so may have missed announcements) is reloaded from the sorted set as soon as it reconnects,
 * subscribing first so that nothing announced during the reload falls between the two.
 */
export class RedisDenyList implements DenyList {
  readonly #client: Redis
  readonly #subscriber: Redis
  readonly #run: RedisCalls['run']
  readonly #keys: StateKeys
  readonly #clock: () => number
  readonly #log: Pick<Log, 'warn' | 'info'> | undefined
  readonly #copy: MemoryExpiringSet
  #synced = false
  /** When the copy last stopped following Redis (ms), or undefined while it follows. */
  #staleSince: number | undefined
  #retry: NodeJS.Timeout | undefined
  #closed = false

  constructor (client: Redis, subscriber: Redis, run: RedisCalls['run'], keys: StateKeys, clock: () => number, log?: Pick<Log, 'warn' | 'info'>) {
    this.#client = client
    this.#run = run
    this.#subscriber = subscriber
    this.#keys = keys
    this.#clock = clock
    this.#log = log
    this.#copy = new MemoryExpiringSet(clock)
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== keys.denyChannel) return
      for (const [jti, expiresAtMs] of parseDenied(message)) this.#copy.addNow(jti, expiresAtMs)
    })
    subscriber.on('ready', () => { void this.#resync() })
    subscriber.on('close', () => { this.#lost() })
  }

  /** Subscribes and loads the whole list: the copy is complete when this resolves (start-up waits for it). */
  async start (): Promise<void> {
    await this.#resync(true)
  }

  async add (jti: string, expiresAtMs: number): Promise<boolean> {
    const [added, inForce] = await this.#run(async () => await this.#client.geotokenDenyAdd(this.#keys.deny, jti, expiresAtMs, this.#clock(), this.#keys.denyChannel))
    // Into the copy at once: this instance refuses the token when the revocation is answered, not when the
    // announcement comes back.
    this.#copy.addNow(jti, Number(inForce))
    return added === 1
  }

  async has (jti: string): Promise<boolean> { return this.#copy.has(jti) }

  /** Adds entries a family revocation denied in Redis (the same script announced them to every other instance). */
  addLocally (entries: ReadonlyArray<readonly [string, number]>): void {
    for (const [jti, expiresAtMs] of entries) this.#copy.addNow(jti, expiresAtMs)
  }

  /** 'ok' while the copy follows Redis; otherwise since when it may be missing revocations made elsewhere. */
  status (): string {
    if (this.#synced) return 'ok'
    const since = this.#staleSince === undefined ? '' : ` for ${Math.round((this.#clock() - this.#staleSince) / 1000)} s`
    return `degraded: the local deny-list copy is not following Redis${since}; revocations made on other instances meanwhile are not seen here yet`
  }

  close (): void {
    this.#closed = true
    clearTimeout(this.#retry)
  }

  #lost (): void {
    if (this.#synced) this.#staleSince = this.#clock()
    this.#synced = false
  }

  async #resync (throwOnFailure = false): Promise<void> {
    clearTimeout(this.#retry)
    if (this.#closed) return
    try {
      await redisCall(async () => await this.#subscriber.subscribe(this.#keys.denyChannel))
      const now = this.#clock()
      const flat = await redisCall(async () => await this.#client.zrangebyscore(this.#keys.deny, `(${now}`, '+inf', 'WITHSCORES'))
      for (let i = 0; i + 1 < flat.length; i += 2) this.#copy.addNow(flat[i] as string, Number(flat[i + 1]))
      if (!this.#synced && this.#staleSince !== undefined) {
        this.#log?.info({ event: 'denylist.resynced', entries: flat.length / 2 }, 'deny-list copy reloaded from Redis')
      }
      this.#synced = this.#subscriber.status === 'ready'
      if (this.#synced) this.#staleSince = undefined
    } catch (err) {
      if (throwOnFailure) throw err
      // The subscriber is back but the command connection is not yet: try again shortly, while it stays up.
      if (this.#subscriber.status === 'ready') this.#retry = setTimeout(() => { void this.#resync() }, RESYNC_RETRY_MS)
    }
  }
}
