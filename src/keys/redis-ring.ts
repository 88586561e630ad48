// Owns the key ring in Redis (STATE_STORE=redis): one sealed document, changed by compare-and-set, changes pushed.
import type { Redis } from 'ioredis'
import { KeyStoreCorrupt, StoreConflict } from '../shared/errors.js'
import { RedisDocument, watchChannel } from '../shared/redis-document.js'
import type { Log } from '../shared/log.js'
import type { Kek } from './kek.js'
import type { KeyRing } from './keyring.js'
import { openRing, sealRing } from './sealed-ring.js'
import type { RingSource } from './store.js'

export const RING_KEY = 'geotoken:keyring'

/** The stored ring and the revision it was read at (0: none stored). */
export async function readSealedRing (doc: RedisDocument, kek: Kek): Promise<{ ring: KeyRing | null, revision: number }> {
  const stored = await doc.read()
  if (stored === null) return { ring: null, revision: 0 }
  try {
    return { ring: openRing(stored.body, kek), revision: stored.revision }
  } catch (err) {
    // A KEK that does not open the ring keeps its own code: the store is fine, the setting is wrong.
    if ((err as { code?: string }).code === 'APP_KEK_MISMATCH') throw err
    throw new KeyStoreCorrupt(`redis ${doc.key}`, (err as Error).message)
  }
}

/**
 * The ring in Redis. `redis` runs commands; `subscriber` (a connection of its own, only for the live store) hears
 * of changes. Writes never wait on a lock: a writer that lost the compare-and-set throws APP_STORE_CONFLICT.
 */
export function redisRingSource (redis: Redis, kek: Kek, log: Log, subscriber?: Redis): RingSource {
  const doc = new RedisDocument(redis, RING_KEY)
  return {
    name: `redis ${RING_KEY}`,
    load: async () => (await readSealedRing(doc, kek)).ring,
    update: async fn => {
      const { ring, revision } = await readSealedRing(doc, kek)
      const { ring: next, result } = await fn(ring)
      if (next === undefined) return result
      if (await doc.compareAndSet(revision, sealRing(next, kek)) === 0) {
        throw new StoreConflict(`the key ring in ${RING_KEY}`, `another rotate-keys, migration or first start wrote it after revision ${revision} was read`)
      }
      return result
    },
    version: async () => String(await doc.revision()),
    ...(subscriber === undefined ? {} : { watch: async handlers => await watchChannel(subscriber, doc.channel, handlers, log) })
  }
}
