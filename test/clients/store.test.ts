// The live client registry: reloads are ordered, so an older clients.json never replaces a newer one (issue 13).
import t, { type Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import { ClientStore, updateClients, type ReadText } from '../../src/clients/store.js'
import { addClient, disableClient, serializeClients } from '../../src/clients/registry.js'
import { readIfExists } from '../../src/shared/atomic-file.js'
import { clientsFixture } from '../helpers/app.js'

const quiet = { info () {}, warn () {}, error () {} }
const HOUR = 3_600_000 // no timer poll during a test: each reload is called by the test

/**
 * Slow storage, for real: the real file is read, but the read armed by `stall()` answers only when released,
 * so the content it returns is older than the file by then.
 */
function slowStorage (): { read: ReadText, stall: () => { reading: Promise<void>, release: () => void } } {
  let armed: { entered: () => void, released: Promise<void> } | undefined
  return {
    read: async path => {
      const text = await readIfExists(path)
      const stall = armed
      armed = undefined
      if (stall !== undefined) { stall.entered(); await stall.released }
      return text
    },
    stall: () => {
      let entered = (): void => {}
      let release = (): void => {}
      const reading = new Promise<void>(resolve => { entered = resolve })
      armed = { entered, released: new Promise<void>(resolve => { release = resolve }) }
      return { reading, release }
    }
  }
}

async function setup (t: Pick<Test, 'testdir' | 'teardown'>): Promise<{ dir: string, id: string, store: ClientStore, storage: ReturnType<typeof slowStorage> }> {
  const { file, clients } = clientsFixture([{ org: 'acme', scopes: ['features:read'] }])
  const dir = t.testdir({ 'clients.json': serializeClients(file) })
  const storage = slowStorage()
  const store = await ClientStore.open(dir, HOUR, quiet, storage.read)
  t.teardown(() => { store.stop() })
  return { dir, id: clients[0]?.id as string, store, storage }
}

/** Waits for `p`, or `ms` if it is waiting on the stalled read (as an ordered store's queued reload is). */
const settledOrAfter = async (p: Promise<unknown>, ms: number): Promise<void> => {
  await Promise.race([p, new Promise(resolve => setTimeout(resolve, ms))])
}

const addOne = async (dir: string): Promise<void> => {
  await updateClients(dir, file => ({ file: addClient(file, { org: 'acme', scopes: ['features:read'], now: new Date() }).file, result: null }))
}
const disable = async (dir: string, id: string): Promise<void> => {
  await updateClients(dir, file => ({ file: disableClient(file, id, new Date()), result: null }))
}

t.test('overlapping polls on slow storage install the newest clients.json: a disabled client never comes back', async t => {
  const { dir, id, store, storage } = await setup(t)
  await addOne(dir) // a change, so the first poll reads the file
  const slow = storage.stall()
  const first = store.reload(false)
  await slow.reading // the first poll has read the file (client enabled) and hangs on slow storage
  await disable(dir, id)
  const second = store.reload(false) // the next poll, while the first is still reading
  await settledOrAfter(second, 500) // a store that lets reads overlap finishes this one first
  slow.release()
  await Promise.all([first, second])
  t.ok(store.directory.get(id)?.disabled_at, 'the newest file is installed: the client is disabled')
  t.equal(store.directory.get(id)?.client_id, id)
  await store.reload(false)
  t.ok(store.directory.get(id)?.disabled_at, 'and stays so at the next poll')
})

t.test('a reload called after a change applies it, even while a poll is still reading the older file', async t => {
  const { dir, id, store, storage } = await setup(t)
  await addOne(dir)
  const slow = storage.stall()
  const poll = store.reload(false)
  await slow.reading
  await disable(dir, id) // `clients disable`, then SIGHUP: the reload must not settle for the poll's older read
  const reloaded = store.reload()
  await settledOrAfter(reloaded, 500)
  slow.release()
  await reloaded
  t.ok(store.directory.get(id)?.disabled_at, 'the disable is applied when reload() resolves')
  await poll
  t.ok(store.directory.get(id)?.disabled_at, 'and the slower poll did not undo it')
})

t.test('a corrupt clients.json keeps the last good registry and is reported once, not at every poll', async t => {
  const { file, clients } = clientsFixture([{ org: 'acme', scopes: ['features:read'] }])
  const dir = t.testdir({ 'clients.json': serializeClients(file) })
  const errors: unknown[] = []
  const store = await ClientStore.open(dir, HOUR, { ...quiet, error: (o: unknown) => { errors.push(o) } })
  t.teardown(() => { store.stop() })
  await writeFile(`${dir}/clients.json`, '{"clients": [')
  for (let i = 0; i < 3; i++) await store.reload(false)
  t.equal(errors.length, 1)
  t.equal(store.directory.get(clients[0]?.id as string)?.org, 'acme', 'the last good registry still answers')
})
