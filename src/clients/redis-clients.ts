// Owns the client registry in Redis (STATE_STORE=redis): one document, changed by compare-and-set, changes pushed.
import type { Redis } from 'ioredis'
import { ClientStoreCorrupt, StoreConflict } from '../shared/errors.js'
import { RedisDocument, watchChannel } from '../shared/redis-document.js'
import type { Log } from '../shared/log.js'
import { emptyClients, parseClients, serializeClients, type ClientsFile } from './registry.js'
import type { ClientSource } from './store.js'

export const CLIENTS_KEY = 'geotoken:clients'

/** Two admin commands at once each get their change in: the loser of a compare-and-set runs again on the new registry. */
const ATTEMPTS = 5

export async function readClients (doc: RedisDocument): Promise<{ file: ClientsFile | null, revision: number }> {
  const stored = await doc.read()
  if (stored === null) return { file: null, revision: 0 }
  try {
    return { file: parseClients(stored.body), revision: stored.revision }
  } catch (err) {
    throw new ClientStoreCorrupt(`redis ${doc.key}`, (err as Error).message)
  }
}

/** The registry in Redis; `subscriber` (a connection of its own, only for the live store) hears of changes. */
export function redisClientSource (redis: Redis, log: Log, subscriber?: Redis): ClientSource {
  const doc = new RedisDocument(redis, CLIENTS_KEY)
  return {
    name: `redis ${CLIENTS_KEY}`,
    load: async () => (await readClients(doc)).file,
    update: async fn => {
      for (let attempt = 1; ; attempt++) {
        const { file, revision } = await readClients(doc)
        const { file: next, result } = fn(file ?? emptyClients())
        if (next === undefined) return result
        if (await doc.compareAndSet(revision, serializeClients(next)) !== 0) return result
        if (attempt === ATTEMPTS) throw new StoreConflict(`the client registry in ${CLIENTS_KEY}`, `${ATTEMPTS} attempts lost to other writers`)
      }
    },
    version: async () => String(await doc.revision()),
    ...(subscriber === undefined ? {} : { watch: async handlers => await watchChannel(subscriber, doc.channel, handlers, log) })
  }
}
