// `npm run bench:state`: what the embedded token state costs (issue 16). The guard's question (revoked.has) on the
// memory backend, on the SQLite backend (its copy in memory, checked against PRAGMA data_version per call), and as a
// plain SQLite lookup per call (the design not chosen); then the cost of a change committed with synchronous=FULL
// (every commit fsync'd: what the service does) next to NORMAL (not durable against power loss), in this DATA_DIR's
// file system (BENCH_DIR, default a temp dir).
import Database from 'better-sqlite3'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openTokenStateBackend } from '../src/tokens/backend.js'
import type { DenyList } from '../src/tokens/state.js'

const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 1_000_000)
const COMMITS = Number(process.env.BENCH_COMMITS ?? 2000)
const DENIED = 10_000
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'geotoken-bench-state-'))

function ns (start: bigint, n: number): string { return (Number(process.hrtime.bigint() - start) / n).toFixed(0) }

async function lookups (label: string, has: (jti: string) => Promise<boolean> | boolean): Promise<void> {
  const misses = Array.from({ length: 1024 }, () => randomUUID())
  for (let i = 0; i < 10_000; i++) await has(misses[i & 1023] as string) // warm-up
  const start = process.hrtime.bigint()
  for (let i = 0; i < LOOKUPS; i++) await has(misses[i & 1023] as string)
  console.log(`| ${label} | ${ns(start, LOOKUPS)} ns |`)
}

async function fill (revoked: DenyList): Promise<void> {
  const exp = Date.now() + 3_600_000
  for (let i = 0; i < DENIED; i++) await revoked.add(randomUUID(), exp)
}

console.log(`token state, ${new Date().toISOString()}, Node ${process.version}, SQLite ${(new Database(':memory:').prepare('select sqlite_version() v').get() as { v: string }).v}, dir ${dir}`)
console.log(`\nrevoked.has() of a jti not on a list of ${DENIED} (the guard's case: almost every token is not revoked), mean of ${LOOKUPS}:\n`)
console.log('| deny-list | per call |\n|---|---|')
const memory = await openTokenStateBackend({ store: 'memory', dataDir: '', clock: Date.now })
await fill(memory.revoked)
await lookups('memory backend', async jti => await memory.revoked.has(jti))
const embedded = await openTokenStateBackend({ store: 'embedded', dataDir: join(dir, 'a'), clock: Date.now })
await fill(embedded.revoked)
await lookups('embedded (SQLite) backend: its copy in memory, PRAGMA data_version at most every 100 ms', async jti => await embedded.revoked.has(jti))
const raw = new Database(join(dir, 'a', 'token-state.sqlite'), { readonly: true })
const select = raw.prepare('SELECT 1 FROM denied WHERE jti = ? AND expires_at > ?').pluck()
await lookups('a SQLite SELECT per call (not chosen)', jti => select.get(jti, Date.now()) !== undefined)
raw.close()

console.log(`\nrevoked.add() of a new jti, one transaction each, mean of ${COMMITS} (the revocation endpoint's write):\n`)
console.log('| synchronous | per commit |\n|---|---|')
{
  const start = process.hrtime.bigint()
  const exp = Date.now() + 3_600_000
  for (let i = 0; i < COMMITS; i++) await embedded.revoked.add(randomUUID(), exp)
  console.log(`| FULL (the service) | ${(Number(process.hrtime.bigint() - start) / COMMITS / 1000).toFixed(1)} µs |`)
}
{
  const db = new Database(join(dir, 'normal.sqlite'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE denied (seq INTEGER PRIMARY KEY AUTOINCREMENT, jti TEXT NOT NULL UNIQUE, expires_at INTEGER NOT NULL)')
  const insert = db.prepare('INSERT INTO denied (jti, expires_at) VALUES (?, ?)')
  const exp = Date.now() + 3_600_000
  const start = process.hrtime.bigint()
  for (let i = 0; i < COMMITS; i++) db.transaction(() => insert.run(randomUUID(), exp)).immediate()
  console.log(`| NORMAL (not chosen: the last commits can be lost on power loss) | ${(Number(process.hrtime.bigint() - start) / COMMITS / 1000).toFixed(1)} µs |`)
  db.close()
}
await embedded.close()
rmSync(dir, { recursive: true, force: true })
