// Owns data/clients.json on disk: locked read-modify-write for scripts, hot reload for the service.
import { join } from 'node:path'
import { ClientStoreCorrupt, StoreLocked } from '../shared/errors.js'
import { readIfExists, writeFileAtomic } from '../shared/atomic-file.js'
import { withLock } from '../shared/file-lock.js'
import type { Log } from '../shared/log.js'
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

/** The live client directory: clients.json as a watched file, so added and disabled clients apply without a restart. */
export class ClientStore {
  readonly #file: WatchedFile<ClientsFile, ClientDirectory>

  private constructor (file: WatchedFile<ClientsFile, ClientDirectory>) { this.#file = file }

  static async open (dir: string, pollMs: number, log: Log, read: ReadText = readIfExists): Promise<ClientStore> {
    const file = await WatchedFile.open({
      path: join(dir, CLIENTS_FILE),
      load: async () => (await loadClients(dir, read)) ?? emptyClients(),
      view: clients => new ClientDirectory(clients),
      pollMs,
      log,
      clock: Date.now,
      event: 'clients',
      label: 'client registry'
    })
    file.onChange(() => { log.info({ event: 'clients.reloaded' }, 'client registry reloaded') })
    return new ClientStore(file)
  }

  get directory (): ClientDirectory { return this.#file.view }

  /** Whether clients.json was usable at the last read (else additions and disables are not being applied). */
  get health (): FileHealth { return this.#file.health }

  /**
   * Re-reads clients.json: always, or with `force` false only when it changed (a poll). A bad file keeps the last
   * good directory. Resolves after a read that started after this call, so a change made before calling is applied.
   */
  async reload (force = true): Promise<boolean> { return await this.#file.reload(force) }

  stop (): void { this.#file.stop() }
}
