// The token-state contract (test/tokens/state-contract.ts) on the embedded SQLite backend, opened as the app opens
// it: once with one handle per test, once with two handles on one file (what one writes, the other answers).
import t from 'tap'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openTokenStateBackend } from '../../src/tokens/backend.js'
import { DENY_SYNC_MS, openSqliteBackend, TOKEN_STATE_FILE } from '../../src/tokens/sqlite-backend.js'
import type { TokenStateBackend } from '../../src/tokens/state.js'
import { tokenStateContract } from './state-contract.js'

const CHILD = new URL('../helpers/state-child.ts', import.meta.url).pathname

t.test('one handle', async t => {
  tokenStateContract(t, async t => {
    const backend = await openTokenStateBackend({ store: 'embedded', dataDir: t.testdir(), clock: Date.now })
    t.teardown(async () => { await backend.close() })
    t.equal(backend.kind, 'sqlite')
    return backend
  })
})

/**
 * Every write goes through one handle and every read through the other, each with its own connection to one file,
 * as two processes would: the lockouts and rate limits are per process by design (see sqlite-backend.ts) and stay on one.
 */
function crossed (writer: TokenStateBackend, reader: TokenStateBackend): TokenStateBackend {
  return {
    kind: writer.kind,
    revoked: { add: writer.revoked.add.bind(writer.revoked), has: reader.revoked.has.bind(reader.revoked) },
    usedAssertions: {
      // Alternating handles: a replay through the other handle must be refused just the same.
      add: (() => { let n = 0; return async (id: string, exp: number) => await (n++ % 2 === 0 ? writer : reader).usedAssertions.add(id, exp) })()
    },
    refreshFamilies: {
      get: reader.refreshFamilies.get.bind(reader.refreshFamilies),
      put: writer.refreshFamilies.put.bind(writer.refreshFamilies),
      markUsed: (() => { let n = 0; return async (hash: string) => await (n++ % 2 === 0 ? writer : reader).refreshFamilies.markUsed(hash) })(),
      addAccessToken: reader.refreshFamilies.addAccessToken.bind(reader.refreshFamilies),
      revokeFamily: writer.refreshFamilies.revokeFamily.bind(writer.refreshFamilies),
      isFamilyRevoked: reader.refreshFamilies.isFamilyRevoked.bind(reader.refreshFamilies)
    },
    lockouts: writer.lockouts,
    rateLimits: writer.rateLimits,
    close: async () => { await writer.close(); await reader.close() }
  }
}

// The reader checks for the other handle's commits on every question (syncEveryMs 0), so the contract's "at once"
// holds between handles too; the service's own bound (DENY_SYNC_MS) is tested with a process of its own below.
t.test('two handles on one file', async t => {
  tokenStateContract(t, async t => {
    const file = join(t.testdir(), TOKEN_STATE_FILE)
    const one = openSqliteBackend({ file, syncEveryMs: 0 })
    const two = openSqliteBackend({ file, syncEveryMs: 0 })
    const backend = crossed(one, two)
    t.teardown(async () => { await backend.close() })
    return backend
  })
})

/** Runs test/helpers/state-child.ts: another process on the same file. `go` is written to it once it is ready. */
function child (dataDir: string, args: string[]): { ready: Promise<void>, started: Promise<void>, go: () => void, answer: Promise<unknown> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  let readyResolve: () => void = () => {}
  let startedResolve: () => void = () => {}
  const ready = new Promise<void>(resolve => { readyResolve = resolve })
  const started = new Promise<void>(resolve => { startedResolve = resolve })
  proc.stdout.on('data', (d: Buffer) => {
    out += String(d)
    if (out.startsWith('ready\n')) readyResolve()
    if (out.startsWith('ready\nstarted\n')) startedResolve()
  })
  const answer = new Promise<unknown>((resolve, reject) => {
    proc.once('exit', code => {
      if (code !== 0) { reject(new Error(`child exited ${code}: ${out}`)); return }
      resolve(JSON.parse(out.replace(/^ready\n(started\n)?/, '').trim()))
    })
  })
  return { ready, started, go: () => { proc.stdin.end('go\n') }, answer }
}

/** Asks `has` until it answers true or `withinMs` passes; resolves to how long it took, or -1. */
async function seenWithin (has: () => Promise<boolean>, withinMs: number): Promise<number> {
  const start = performance.now()
  while (performance.now() - start <= withinMs) {
    if (await has()) return performance.now() - start
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  return -1
}

t.test(`another process on the same file: its revocations are refused here within DENY_SYNC_MS (${DENY_SYNC_MS} ms), from this handle's copy`, async t => {
  const dataDir = t.testdir()
  const here = await openTokenStateBackend({ store: 'embedded', dataDir, clock: Date.now })
  t.teardown(async () => { await here.close() })
  const jti = `jti-${randomUUID()}`
  t.equal(await here.revoked.has(jti), false)
  t.equal(await child(dataDir, ['deny', jti, String(Date.now() + 60_000)]).answer, true, 'the other process denies it')
  const took = await seenWithin(async () => await here.revoked.has(jti), DENY_SYNC_MS + 50)
  t.ok(took >= 0, `and this one refuses it ${took.toFixed(0)} ms later`)

  const familyId = `family-${randomUUID()}`
  const now = Date.now()
  await here.refreshFamilies.put({ clientId: 'c', org: 'acme', subject: 's', scope: 'features:read', hash: `h-${randomUUID()}`, familyId, familyExpiresAtMs: now + 60_000, issuedAtMs: now, expiresAtMs: now + 60_000, used: false })
  const access = `jti-${randomUUID()}`
  t.equal(await here.refreshFamilies.addAccessToken(familyId, access, now + 60_000), true)
  t.same(await child(dataDir, ['revoke-family', familyId]).answer, [{ jti: access, expiresAtMs: now + 60_000 }], 'the other process revokes the family')
  t.equal(await here.refreshFamilies.isFamilyRevoked(familyId), true)
  t.ok(await seenWithin(async () => await here.revoked.has(access), DENY_SYNC_MS + 50) >= 0, 'and its access token is refused here within the bound')
  t.equal(await here.refreshFamilies.addAccessToken(familyId, `jti-${randomUUID()}`, now + 60_000), false)
})

t.test('two processes spending the same refresh tokens at once: each token is spent exactly once', async t => {
  const dataDir = t.testdir()
  const here = await openTokenStateBackend({ store: 'embedded', dataDir, clock: Date.now })
  t.teardown(async () => { await here.close() })
  const now = Date.now()
  const hashes = Array.from({ length: 200 }, () => `h-${randomUUID()}`)
  for (const hash of hashes) {
    await here.refreshFamilies.put({ clientId: 'c', org: 'acme', subject: 's', scope: 'features:read', hash, familyId: `f-${hash}`, familyExpiresAtMs: now + 60_000, issuedAtMs: now, expiresAtMs: now + 60_000, used: false })
  }
  const other = child(dataDir, ['mark-used', ...hashes])
  await other.ready
  other.go()
  await other.started
  // The other process goes through them in order, this one from the end: they meet, and race, in the middle.
  const wonHere: string[] = []
  for (const hash of [...hashes].reverse()) {
    if (await here.refreshFamilies.markUsed(hash)) wonHere.push(hash)
    await new Promise(resolve => setTimeout(resolve, Math.random() * 2)) // as the other process does (state-child.ts)
  }
  const wonThere = await other.answer as string[]
  t.equal(wonHere.length + wonThere.length, hashes.length, `every token spent once: ${wonHere.length} here, ${wonThere.length} there`)
  t.ok(wonHere.length > 0 && wonThere.length > 0, 'both processes won some: they raced')
  t.same([...wonHere, ...wonThere].sort(), [...hashes].sort(), 'and by exactly one of the two')
})

t.test('a spent refresh token coming back revokes its family in the same transaction as the detection', async t => {
  const backend = await openTokenStateBackend({ store: 'embedded', dataDir: t.testdir(), clock: Date.now })
  t.teardown(async () => { await backend.close() })
  const now = Date.now()
  const familyId = `family-${randomUUID()}`
  const hash = `h-${randomUUID()}`
  await backend.refreshFamilies.put({ clientId: 'c', org: 'acme', subject: 's', scope: 'features:read', hash, familyId, familyExpiresAtMs: now + 60_000, issuedAtMs: now, expiresAtMs: now + 60_000, used: false })
  const access = `jti-${randomUUID()}`
  await backend.refreshFamilies.addAccessToken(familyId, access, now + 60_000)
  t.equal(await backend.refreshFamilies.markUsed(hash), true)
  t.equal(await backend.refreshFamilies.isFamilyRevoked(familyId), false, 'the first use revokes nothing')
  t.equal(await backend.refreshFamilies.markUsed(hash), false, 'the reuse is seen')
  t.equal(await backend.refreshFamilies.isFamilyRevoked(familyId), true, 'and the family is revoked by that same step, before any revokeFamily')
  t.equal(await backend.revoked.has(access), true, 'its access token denied with it')
  t.same(await backend.refreshFamilies.revokeFamily(familyId), [{ jti: access, expiresAtMs: now + 60_000 }], 'the caller\'s revokeFamily repeats it')
  t.equal(await backend.refreshFamilies.markUsed(`h-${randomUUID()}`), false, 'an unknown token revokes nothing (and has no family)')
})

t.test('a file that is not a token-state database, or one written by a newer geotoken, stops the open and is left as it was', async t => {
  const dataDir = t.testdir({ [TOKEN_STATE_FILE]: 'not a database, but somebody\'s file '.repeat(200) })
  const before = readFileSync(join(dataDir, TOKEN_STATE_FILE))
  await t.rejects(openTokenStateBackend({ store: 'embedded', dataDir, clock: Date.now }), { code: 'APP_TOKEN_STATE_CORRUPT', message: /SQLITE_NOTADB.*restore it from a backup/ })
  t.same(readFileSync(join(dataDir, TOKEN_STATE_FILE)), before, 'not overwritten')

  const newer = t.testdir()
  const db = new Database(join(newer, TOKEN_STATE_FILE))
  db.pragma('user_version = 99')
  db.close()
  await t.rejects(openTokenStateBackend({ store: 'embedded', dataDir: newer, clock: Date.now }), { code: 'APP_TOKEN_STATE_CORRUPT', message: /written by a newer geotoken \(schema 99; this one knows 1\)/ })
})

t.test('the file and its directory are private to the service', async t => {
  const dataDir = join(t.testdir(), 'data')
  const backend = await openTokenStateBackend({ store: 'embedded', dataDir, clock: Date.now })
  t.teardown(async () => { await backend.close() })
  await backend.revoked.add(`jti-${randomUUID()}`, Date.now() + 60_000)
  t.equal(statSync(dataDir).mode & 0o777, 0o700)
  for (const name of [TOKEN_STATE_FILE, `${TOKEN_STATE_FILE}-wal`, `${TOKEN_STATE_FILE}-shm`]) {
    t.equal(statSync(join(dataDir, name)).mode & 0o777, 0o600, `${name} is 0600`)
  }
})
