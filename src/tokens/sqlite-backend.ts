// Owns the embedded token-state backend (STATE_STORE=embedded, the default): the deny-list, refresh families and
// used assertion ids in one SQLite file in DATA_DIR, so that nothing acknowledged is forgotten on restart (issue 16).
import Database from 'better-sqlite3'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { TokenStateCorrupt, TokenStateUnavailable } from '../shared/errors.js'
import type { Log } from '../shared/log.js'
import { MemoryLockoutStore } from './memory-lockouts.js'
import type { DenyList, FamilyAccessToken, RefreshFamilies, RefreshRecord, TokenStateBackend, UsedAssertions } from './state.js'

/** The file's name in DATA_DIR. */
export const TOKEN_STATE_FILE = 'token-state.sqlite'

/** The layout this code writes; a file of a higher version was written by a newer geotoken and is not touched. */
const SCHEMA_VERSION = 1

/**
 * How long a change waits for another process's transaction (an admin command beside the service) before it is
 * answered 503. better-sqlite3 waits synchronously, so this is also the longest the event loop can stall on it;
 * transactions here take microseconds to milliseconds, so a wait this long means the other process is stuck.
 */
const BUSY_TIMEOUT_MS = 2000

/** How often expired rows are deleted (each entry is also ignored from its expiry on, deleted or not). */
const CLEANUP_EVERY_MS = 60_000

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS denied (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the order in which other handles copy new entries
    jti TEXT NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS denied_expiry ON denied (expires_at);
  CREATE TABLE IF NOT EXISTS used_assertions (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS used_assertions_expiry ON used_assertions (expires_at);
  CREATE TABLE IF NOT EXISTS refresh_families (
    id TEXT PRIMARY KEY, revoked INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS refresh_families_expiry ON refresh_families (expires_at);
  CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash TEXT PRIMARY KEY, family_id TEXT NOT NULL, client_id TEXT NOT NULL, org TEXT NOT NULL, subject TEXT NOT NULL,
    scope TEXT NOT NULL, issuer TEXT, family_expires_at INTEGER NOT NULL, issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS refresh_tokens_family_expiry ON refresh_tokens (family_expires_at);
  CREATE TABLE IF NOT EXISTS family_access_tokens (
    family_id TEXT NOT NULL, jti TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (family_id, jti)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS family_access_tokens_expiry ON family_access_tokens (expires_at);
`

interface TokenRow {
  hash: string, family_id: string, client_id: string, org: string, subject: string, scope: string, issuer: string | null,
  family_expires_at: number, issued_at: number, expires_at: number, used: number
}

/** Every SQLite failure (full disk, I/O error, busy past the timeout) becomes a retryable 503 that stored nothing. */
function guarded<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof Database.SqliteError) throw new TokenStateUnavailable(`${err.code}: ${err.message}`, { cause: err })
    throw err
  }
}

export interface SqliteBackendOptions {
  /** The database file (DATA_DIR/token-state.sqlite); created 0600 with its directory when missing. */
  file: string
  clock?: () => number
  /** Where a failed cleanup is reported; nothing else is logged. */
  log?: Pick<Log, 'warn'>
  /** Tests shorten it; the default suits the service. */
  cleanupEveryMs?: number
  /**
   * How stale this handle's copy of the deny-list may be about other processes' revocations (its own are at once):
   * DENY_SYNC_MS by default; 0 checks on every question (tests of two handles).
   */
  syncEveryMs?: number
}

/**
 * Longest a revocation made by another process on the same file (an admin command) goes unseen by the guard.
 * Two services never share the file: the feature store lets one process have a DATA_DIR.
 */
export const DENY_SYNC_MS = 100

/** Opens (creating if needed) the file with WAL and synchronous=FULL; APP_TOKEN_STATE_CORRUPT when it is not usable. */
function openDatabase (file: string): Database.Database {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  // Refresh token hashes and jtis are not secrets, but nobody else needs them: SQLite gives -wal and -shm this mode too.
  closeSync(openSync(file, 'a', 0o600))
  let db: Database.Database | undefined
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS })
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) {
      throw new TokenStateCorrupt(file, `it was written by a newer geotoken (schema ${version}; this one knows ${SCHEMA_VERSION}): run that version, or restore a backup made by this one`)
    }
    // WAL: readers (the deny-list copy of another handle) never wait for a writer, and a commit appends to one file.
    db.pragma('journal_mode = WAL')
    // FULL: every commit is fsync'd before it returns, so a change acknowledged with a 200 survives a power cut,
    // not only a crash of the process (NORMAL would lose the last commits on power loss in WAL mode).
    db.pragma('synchronous = FULL')
    // After a checkpoint the WAL file is cut back to this size rather than keeping its high-water mark.
    db.pragma('journal_size_limit = 8388608')
    const opened = db
    opened.transaction(() => { opened.exec(SCHEMA); opened.pragma(`user_version = ${SCHEMA_VERSION}`) }).immediate()
    return opened
  } catch (err) {
    db?.close()
    if (err instanceof Database.SqliteError) {
      if (err.code === 'SQLITE_NOTADB' || err.code.startsWith('SQLITE_CORRUPT')) {
        throw new TokenStateCorrupt(file, `${err.code}: ${err.message}; restore it from a backup, or move it away to start with no revocations, refresh tokens or used assertions`)
      }
      throw new TokenStateUnavailable(`${file}: ${err.code}: ${err.message}`, { cause: err })
    }
    throw err
  }
}

/**
 * The deny-list, answered on the guard's hot path from a copy in memory: loaded at open, updated by this handle's
 * own writes at once, and by other handles' (another process on the same file: an admin command) at most
 * `syncEveryMs` later. That check is `PRAGMA data_version`, which changes only when another connection committed;
 * but it opens a read transaction (file locks on the -shm file), about as costly as a SELECT: 5-14 µs here against
 * well under 1 µs for the copy (`npm run bench:state`), so the guard does not pay it on every request.
 */
class SqliteDenyList implements DenyList {
  readonly #copy = new Map<string, number>()
  readonly #clock: () => number
  readonly #dataVersion: Database.Statement
  readonly #since: Database.Statement
  readonly #add: Database.Transaction<(jti: string, expiresAtMs: number, now: number) => boolean>
  readonly #select: Database.Statement
  readonly #delete: Database.Statement
  readonly #insert: Database.Statement
  readonly #syncEveryMs: number
  #version = -1
  #seen = 0
  #nextSync = 0
  #nextPrune = 0

  constructor (db: Database.Database, clock: () => number, syncEveryMs: number) {
    this.#clock = clock
    this.#syncEveryMs = syncEveryMs
    this.#dataVersion = db.prepare('PRAGMA data_version').pluck()
    this.#since = db.prepare('SELECT seq, jti, expires_at FROM denied WHERE seq > ? AND expires_at > ? ORDER BY seq')
    this.#select = db.prepare('SELECT expires_at FROM denied WHERE jti = ?').pluck()
    this.#delete = db.prepare('DELETE FROM denied WHERE jti = ?')
    this.#insert = db.prepare('INSERT INTO denied (jti, expires_at) VALUES (?, ?)')
    this.#add = db.transaction((jti: string, expiresAtMs: number, now: number) => this.addInTransaction(jti, expiresAtMs, now))
    this.#sync()
  }

  async add (jti: string, expiresAtMs: number): Promise<boolean> {
    const now = this.#clock()
    const added = guarded(() => this.#add.immediate(jti, expiresAtMs, now))
    if (added) this.remember(jti, expiresAtMs)
    return added
  }

  async has (jti: string): Promise<boolean> {
    const now = this.#clock()
    // A monotonic clock of its own: the throttle must not stop syncing when the token clock is frozen or set back.
    const tick = performance.now()
    if (tick >= this.#nextSync) {
      this.#nextSync = tick + this.#syncEveryMs
      guarded(() => { this.#sync() })
    }
    this.#prune(now)
    const expiry = this.#copy.get(jti)
    return expiry !== undefined && expiry > now
  }

  /** `add` inside the caller's transaction (revokeFamily): the copy is updated by `remember` once it committed. */
  addInTransaction (jti: string, expiresAtMs: number, now: number): boolean {
    const current = this.#select.get(jti) as number | undefined
    if (current !== undefined && current > now) return false
    if (current !== undefined) this.#delete.run(jti)
    if (expiresAtMs > now) this.#insert.run(jti, expiresAtMs)
    return true
  }

  remember (jti: string, expiresAtMs: number): void {
    if (expiresAtMs > this.#clock()) this.#copy.set(jti, expiresAtMs)
  }

  get size (): number { return this.#copy.size }

  #sync (): void {
    const version = this.#dataVersion.get() as number
    if (version === this.#version) return
    // Read before the rows: a commit landing in between is copied now or, having changed the version, next time.
    this.#version = version
    for (const row of this.#since.iterate(this.#seen, this.#clock()) as IterableIterator<{ seq: number, jti: string, expires_at: number }>) {
      this.#copy.set(row.jti, row.expires_at)
      this.#seen = row.seq
    }
  }

  // Insertion order is not expiry order, so a full sweep runs at most once a second rather than per call.
  #prune (now: number): void {
    if (now < this.#nextPrune) return
    this.#nextPrune = now + 1000
    for (const [jti, expiry] of this.#copy) if (expiry <= now) this.#copy.delete(jti)
  }
}

class SqliteUsedAssertions implements UsedAssertions {
  readonly #clock: () => number
  readonly #claim: Database.Statement
  readonly #live: Database.Statement

  constructor (db: Database.Database, clock: () => number) {
    this.#clock = clock
    // One statement, so one atomic step even against another process: inserted, or taken over from an expired row.
    this.#claim = db.prepare(`INSERT INTO used_assertions (id, expires_at) VALUES (?, ?)
      ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE used_assertions.expires_at <= ?`)
    this.#live = db.prepare('SELECT 1 FROM used_assertions WHERE id = ? AND expires_at > ?').pluck()
  }

  async add (id: string, expiresAtMs: number): Promise<boolean> {
    const now = this.#clock()
    if (expiresAtMs <= now) return guarded(() => this.#live.get(id, now) === undefined)
    return guarded(() => this.#claim.run(id, expiresAtMs, now).changes === 1)
  }
}

class SqliteRefreshFamilies implements RefreshFamilies {
  readonly #clock: () => number
  readonly #denyList: SqliteDenyList
  readonly #get: Database.Statement
  readonly #put: Database.Transaction<(r: RefreshRecord) => void>
  readonly #markUsed: Database.Transaction<(hash: string, now: number) => { spent: boolean, denied: FamilyAccessToken[] }>
  readonly #addAccess: Database.Transaction<(familyId: string, jti: string, expiresAtMs: number, now: number) => boolean>
  readonly #revoke: Database.Transaction<(familyId: string, now: number) => FamilyAccessToken[]>
  readonly #isRevoked: Database.Statement

  constructor (db: Database.Database, denyList: SqliteDenyList, clock: () => number) {
    this.#clock = clock
    this.#denyList = denyList
    this.#get = db.prepare('SELECT * FROM refresh_tokens WHERE hash = ?')
    const insertToken = db.prepare(`INSERT OR REPLACE INTO refresh_tokens
      (hash, family_id, client_id, org, subject, scope, issuer, family_expires_at, issued_at, expires_at, used)
      VALUES (@hash, @familyId, @clientId, @org, @subject, @scope, @issuer, @familyExpiresAtMs, @issuedAtMs, @expiresAtMs, @used)`)
    // OR IGNORE: a rotation that lost the race against a revocation must not revive the family.
    const insertFamily = db.prepare('INSERT OR IGNORE INTO refresh_families (id, revoked, expires_at) VALUES (?, 0, ?)')
    this.#put = db.transaction((r: RefreshRecord) => {
      insertToken.run({ ...r, issuer: r.issuer ?? null, used: r.used ? 1 : 0 })
      insertFamily.run(r.familyId, r.familyExpiresAtMs)
    })
    const family = db.prepare('SELECT revoked FROM refresh_families WHERE id = ?').pluck()
    const insertAccess = db.prepare('INSERT OR REPLACE INTO family_access_tokens (family_id, jti, expires_at) VALUES (?, ?, ?)')
    this.#addAccess = db.transaction((familyId: string, jti: string, expiresAtMs: number, now: number) => {
      const revoked = family.get(familyId) as number | undefined
      if (revoked === undefined || revoked === 1) {
        denyList.addInTransaction(jti, expiresAtMs, now)
        return false
      }
      insertAccess.run(familyId, jti, expiresAtMs)
      return true
    })
    const markRevoked = db.prepare('UPDATE refresh_families SET revoked = 1 WHERE id = ?')
    const liveAccess = db.prepare('SELECT jti, expires_at AS expiresAtMs FROM family_access_tokens WHERE family_id = ? AND expires_at > ?')
    const revokeInTransaction = (familyId: string, now: number): FamilyAccessToken[] => {
      if (family.get(familyId) === undefined) return []
      markRevoked.run(familyId)
      const live = liveAccess.all(familyId, now) as FamilyAccessToken[]
      for (const t of live) denyList.addInTransaction(t.jti, t.expiresAtMs, now)
      return live
    }
    this.#revoke = db.transaction(revokeInTransaction)
    // Reuse detection and the family's revocation in one transaction: a crash cannot fall between seeing a spent
    // token come back and revoking its family. The caller's revokeFamily that follows repeats it (it is idempotent).
    const spend = db.prepare('UPDATE refresh_tokens SET used = 1 WHERE hash = ? AND used = 0')
    const familyOf = db.prepare('SELECT family_id FROM refresh_tokens WHERE hash = ?').pluck()
    this.#markUsed = db.transaction((hash: string, now: number) => {
      if (spend.run(hash).changes === 1) return { spent: true, denied: [] }
      const familyId = familyOf.get(hash) as string | undefined
      return { spent: false, denied: familyId === undefined ? [] : revokeInTransaction(familyId, now) }
    })
    this.#isRevoked = db.prepare('SELECT revoked FROM refresh_families WHERE id = ?').pluck()
  }

  async get (hash: string): Promise<RefreshRecord | undefined> {
    const row = guarded(() => this.#get.get(hash)) as TokenRow | undefined
    if (row === undefined) return undefined
    return {
      clientId: row.client_id, org: row.org, subject: row.subject, scope: row.scope,
      ...(row.issuer === null ? {} : { issuer: row.issuer }),
      hash: row.hash, familyId: row.family_id, familyExpiresAtMs: row.family_expires_at, issuedAtMs: row.issued_at,
      expiresAtMs: row.expires_at, used: row.used === 1
    }
  }

  async put (record: RefreshRecord): Promise<void> { guarded(() => { this.#put.immediate(record) }) }

  async markUsed (hash: string): Promise<boolean> {
    const { spent, denied } = guarded(() => this.#markUsed.immediate(hash, this.#clock()))
    for (const t of denied) this.#denyList.remember(t.jti, t.expiresAtMs)
    return spent
  }

  async addAccessToken (familyId: string, jti: string, expiresAtMs: number): Promise<boolean> {
    const recorded = guarded(() => this.#addAccess.immediate(familyId, jti, expiresAtMs, this.#clock()))
    if (!recorded) this.#denyList.remember(jti, expiresAtMs)
    return recorded
  }

  async revokeFamily (familyId: string): Promise<FamilyAccessToken[]> {
    const live = guarded(() => this.#revoke.immediate(familyId, this.#clock()))
    for (const t of live) this.#denyList.remember(t.jti, t.expiresAtMs)
    return live
  }

  async isFamilyRevoked (familyId: string): Promise<boolean> { return guarded(() => this.#isRevoked.get(familyId)) === 1 }
}

/**
 * Token state in one SQLite file: every change is one transaction, committed (fsync'd) before it is answered, and
 * BEGIN IMMEDIATE where a change reads before it writes, so another process on the same file (an admin command, a
 * second handle) is serialized with it rather than interleaved. Lockout counts stay in memory (they are per
 * process, and writing each failed authentication to disk would let an attacker drive the fsync rate), and the rate
 * limits use @fastify/rate-limit's in-process store: losing either on restart changes no decision already made.
 */
export function openSqliteBackend (opts: SqliteBackendOptions): TokenStateBackend {
  const clock = opts.clock ?? Date.now
  const db = openDatabase(opts.file)
  const revoked = new SqliteDenyList(db, clock, opts.syncEveryMs ?? DENY_SYNC_MS)
  const cleanup = db.transaction((now: number) => {
    for (const table of ['denied', 'used_assertions', 'family_access_tokens', 'refresh_families']) {
      db.prepare(`DELETE FROM ${table} WHERE expires_at <= ?`).run(now)
    }
    // A used or expired token still matters until its family's deadline: its reuse must revoke the family.
    db.prepare('DELETE FROM refresh_tokens WHERE family_expires_at <= ?').run(now)
  })
  const sweep = (): void => {
    try { cleanup.immediate(clock()) } catch (err) {
      opts.log?.warn({ event: 'token_state.cleanup_failed', err }, 'expired token state could not be deleted; retrying later')
    }
  }
  sweep()
  const timer = setInterval(sweep, opts.cleanupEveryMs ?? CLEANUP_EVERY_MS).unref()
  let closed = false
  return {
    kind: 'sqlite',
    revoked,
    refreshFamilies: new SqliteRefreshFamilies(db, revoked, clock),
    usedAssertions: new SqliteUsedAssertions(db, clock),
    lockouts: new MemoryLockoutStore(),
    rateLimits: {},
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(timer)
      db.close()
    }
  }
}
