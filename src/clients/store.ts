// Owns where the client registry lives (data/clients.json, or Redis through a ClientSource): locked or
// compare-and-set read-modify-write for scripts, reload on change for the service.
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ClientStoreCorrupt, StoreLocked } from '../shared/errors.js'
import { fileVersion, readIfExists, writeFileAtomic } from '../shared/atomic-file.js'
import { withLock } from '../shared/file-lock.js'
import type { Log } from '../shared/log.js'
import type { ChannelHandlers } from '../shared/redis-document.js'
import { WatchedFile, type FileHealth } from '../shared/watched-file.js'
import { addClient, ClientDirectory, emptyClients, parseClients, serializeClients, type ClientsFile } from './registry.js'

export const CLIENTS_FILE = 'clients.json'

/** Reads a file's text, or null when it does not exist (`readIfExists`; tests pass a slow one). */
export type ReadText = (path: string) => Promise<string | null>

export async function loadClients (dir: string, read: ReadText = readIfExists): Promise<ClientsFile | null> {
  const path = join(dir, CLIENTS_FILE)
  let text: string | null
  try { text = await read(path) } catch (err) { throw new ClientStoreCorrupt(path, (err as Error).message) }
  if (text === null) return null
  try { return parseClients(text) } catch (err) { throw new ClientStoreCorrupt(path, (err as Error).message) }
}

/** Locked read-modify-write: `fn` returns the new file (or undefined to leave it unchanged) and a result. */
export async function updateClients<T> (dir: string, fn: (file: ClientsFile) => { file?: ClientsFile, result: T }): Promise<T> {
  const path = join(dir, CLIENTS_FILE)
  return await withLock(path, async () => {
    const { file, result } = fn((await loadClients(dir)) ?? emptyClients())
    if (file !== undefined) await writeFileAtomic(path, serializeClients(file), 0o600)
    return result
  }, holder => new StoreLocked(path, holder))
}

/**
 * Where the registry is stored: clients.json in DATA_DIR (fileClientSource) or a Redis document
 * (src/clients/redis-clients.ts). The service, the client commands and the migration use only this.
 */
export interface ClientSource {
  /** Names the store in messages: a path, or the Redis key. */
  readonly name: string
  /** The stored registry; null when there is none yet. */
  load: () => Promise<ClientsFile | null>
  /**
   * One read-modify-write: `fn` returns the new registry (or undefined to leave it unchanged) and a result. The
   * file is locked meanwhile; on Redis, `fn` runs again on the newer registry when another writer came first.
   */
  update: <T>(fn: (file: ClientsFile) => { file?: ClientsFile, result: T }) => Promise<T>
  /** Changes whenever the stored registry does. */
  version: () => Promise<string | null>
  /** Pushes changes to the live store (Redis pub/sub); without it, the live store polls `version`. */
  watch?: (handlers: ChannelHandlers) => Promise<() => void>
}

/** clients.json in `dir`: flock-locked atomic replaces. */
export function fileClientSource (dir: string, read: ReadText = readIfExists): ClientSource {
  return {
    name: join(dir, CLIENTS_FILE),
    load: async () => await loadClients(dir, read),
    update: async fn => await updateClients(dir, fn),
    version: async () => await fileVersion(join(dir, CLIENTS_FILE))
  }
}

export interface DemoClient { client_id: string, client_secret: string, org: string }

/** First start only: the demo organizations acme and globex get one read/write client each. */
export async function createDemoClients (dir: string | ClientSource, now: Date): Promise<DemoClient[]> {
  const source = typeof dir === 'string' ? fileClientSource(dir) : dir
  return await source.update(file => {
    if (file.clients.length > 0 || file.orgs.length > 0) return { result: [] }
    let next = file
    const created: DemoClient[] = []
    for (const org of ['acme', 'globex']) {
      const added = addClient(next, { org, scopes: ['features:read', 'features:write'], now })
      next = added.file
      created.push({ client_id: added.client.client_id, client_secret: added.secret, org })
    }
    return { file: next, result: created }
  })
}

/** Unknown client ids make at most one Redis round trip per this many ms, however many arrive. */
export const MISS_SPACING_MS = 25

/**
 * The live client directory: the stored registry re-read on change (a polled file, or a Redis document whose
 * changes are pushed), so added and disabled clients apply without a restart.
 */
export class ClientStore {
  readonly #file: WatchedFile<ClientsFile, ClientDirectory>
  readonly #unwatch: (() => void) | undefined
  /** The next look-up of unknown ids, not yet started: misses arriving meanwhile share it. */
  #round: Promise<boolean> | undefined
  #lastRound = -Infinity

  private constructor (file: WatchedFile<ClientsFile, ClientDirectory>, unwatch: (() => void) | undefined) {
    this.#file = file
    this.#unwatch = unwatch
  }

  static async open (dir: string | ClientSource, pollMs: number, log: Log, read: ReadText = readIfExists): Promise<ClientStore> {
    const source = typeof dir === 'string' ? fileClientSource(dir, read) : dir
    const file = await WatchedFile.open({
      path: source.name,
      ...(source.watch === undefined ? {} : { version: source.version }),
      load: async () => (await source.load()) ?? emptyClients(),
      view: clients => new ClientDirectory(clients),
      pollMs,
      log,
      clock: Date.now,
      event: 'clients',
      label: 'client registry'
    })
    file.onChange(() => { log.info({ event: 'clients.reloaded' }, 'client registry reloaded') })
    const unwatch = await source.watch?.({
      changed: () => { void file.reload(false) },
      lost: err => { file.unhealthy(err) },
      resync: () => { void file.reload(true) }
    })
    return new ClientStore(file, unwatch)
  }

  get directory (): ClientDirectory { return this.#file.view }

  /**
   * Makes sure an unknown `clientId` is not a client added elsewhere a moment ago, before it is refused: on a
   * pushed store (Redis) a change announced but not yet received would otherwise refuse a client that `add-client`
   * already reported. Resolves false when the store could not be asked (Redis down): the caller answers 503.
   * A polled file needs no look-up (the command and the service share the file, and it is read on every poll).
   */
  async lookup (clientId: string): Promise<boolean> {
    if (this.#unwatch === undefined || this.#file.view.get(clientId) !== undefined) return true
    // A round that has not started yet reads after this miss, so it answers it; a started one may not.
    this.#round ??= (async () => {
      // Always a real wait (at least a tick): `#round` must be set before it is cleared here.
      await sleep(Math.max(0, this.#lastRound + MISS_SPACING_MS - performance.now()))
      this.#round = undefined
      this.#lastRound = performance.now()
      const failures = this.#file.health.failures
      await this.#file.reload(false)
      return this.#file.health.failures === failures
    })()
    return await this.#round
  }

  /** Whether clients.json was usable at the last read (else additions and disables are not being applied). */
  get health (): FileHealth { return this.#file.health }

  /**
   * Re-reads clients.json: always, or with `force` false only when it changed (a poll). A bad file keeps the last
   * good directory. Resolves after a read that started after this call, so a change made before calling is applied.
   */
  async reload (force = true): Promise<boolean> { return await this.#file.reload(force) }

  stop (): void {
    this.#file.stop()
    this.#unwatch?.()
  }
}
