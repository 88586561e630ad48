// Owns data/clients.json on disk: locked read-modify-write for scripts, hot reload for the service.
import { join } from 'node:path'
import { ClientStoreCorrupt, StoreLocked } from '../shared/errors.js'
import { fileVersion, readIfExists, writeFileAtomic } from '../shared/atomic-file.js'
import { withLock } from '../shared/file-lock.js'
import type { Log } from '../shared/log.js'
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

export interface DemoClient { client_id: string, client_secret: string, org: string }

/** First start only: the demo organizations acme and globex get one read/write client each. */
export async function createDemoClients (dir: string, now: Date): Promise<DemoClient[]> {
  return await updateClients(dir, file => {
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

/** The live client directory: clients.json is polled, so added and disabled clients apply without a restart. */
export class ClientStore {
  #directory: ClientDirectory
  #version: string | null
  #timer: NodeJS.Timeout | undefined
  /** The read every reload runs after: reads never overlap, so an older file can never replace a newer one. */
  #last: Promise<void> = Promise.resolve()
  /** A read that has not started yet: callers arriving now share it, since it will see what they changed. */
  #queued: { force: boolean, done: Promise<void> } | undefined
  readonly #dir: string
  readonly #log: Log
  readonly #read: ReadText

  private constructor (dir: string, file: ClientsFile, version: string | null, log: Log, read: ReadText) {
    this.#dir = dir
    this.#directory = new ClientDirectory(file)
    this.#version = version
    this.#log = log
    this.#read = read
  }

  static async open (dir: string, pollMs: number, log: Log, read: ReadText = readIfExists): Promise<ClientStore> {
    const version = await fileVersion(join(dir, CLIENTS_FILE))
    const store = new ClientStore(dir, (await loadClients(dir, read)) ?? emptyClients(), version, log, read)
    store.#timer = setInterval(() => { void store.reload(false) }, pollMs)
    store.#timer.unref()
    return store
  }

  get directory (): ClientDirectory { return this.#directory }

  /**
   * Re-reads clients.json when it changed (or always, with `force`); a bad file keeps the last good directory.
   * Resolves after a read that started after this call, so a change made before calling is applied.
   */
  async reload (force = true): Promise<void> {
    if (this.#queued !== undefined) {
      this.#queued.force ||= force
      return await this.#queued.done
    }
    const queued = { force, done: Promise.resolve() }
    queued.done = this.#last.then(async () => {
      this.#queued = undefined
      await this.#reload(queued.force)
    })
    this.#queued = queued
    this.#last = queued.done
    await queued.done
  }

  stop (): void { clearInterval(this.#timer) }

  async #reload (force: boolean): Promise<void> {
    let version: string | null | undefined
    try {
      // The version is taken before the content: if the file changes in between, the next poll reads it again.
      version = await fileVersion(join(this.#dir, CLIENTS_FILE))
      if (!force && version === this.#version) return
      this.#directory = new ClientDirectory((await loadClients(this.#dir, this.#read)) ?? emptyClients())
      this.#log.info({ event: 'clients.reloaded' }, 'client registry reloaded')
    } catch (err) {
      this.#log.error({ event: 'clients.reload_failed', err: { message: (err as Error).message } }, 'client registry reload failed: keeping the last good one')
    } finally {
      // Recorded after the read, good or bad (a bad file is reported once, not at every poll).
      if (version !== undefined) this.#version = version
    }
  }
}
