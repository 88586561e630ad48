// Owns the connection to the feature database: a bounded pool, one transaction per request with the organization
// set for that transaction only, a few connections shared by one-statement reads, errors of the connection as
// APP_FEATURES_DATABASE_UNAVAILABLE, and readiness.
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { DatabaseUnavailable, Problem } from '../../shared/errors.js'
import type { Log } from '../../shared/log.js'
import { ORG_SETTING } from './identifiers.js'

export interface DatabaseOptions {
  url: string
  /** Connections at most, shared ones included: requests beyond wait for one, up to `timeoutMs`. */
  poolMax: number
  /**
   * How many of them carry the one-statement reads of many requests at once (SharedConnections); at most
   * poolMax - 1, so that writes keep a pooled one. Default: a quarter of poolMax, rounded up.
   */
  sharedConnections?: number | undefined
  /** statement_timeout, and how long a request waits for a pooled connection. */
  timeoutMs: number
  /** How often readiness is probed (select 1); 0 = never (tests drive it). */
  probeMs?: number
  log: Log
}

export type DatabaseStatus = 'ok' | 'database-unreachable'

/** SQLSTATE classes and codes that mean "the database is not there (or not now)", not "the request is wrong". */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '53400', '57014', '40001', '40P01', '55P03'])
const UNAVAILABLE_NODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])

/** Whether `err` means the database could not answer: then the request is refused with 503 + Retry-After. */
export function isUnavailable (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  if (code.startsWith('08') || UNAVAILABLE_STATES.has(code) || UNAVAILABLE_NODE.has(code)) return true
  // node-postgres's own errors carry no code, only these messages. A database error (with a SQLSTATE) may quote a
  // client's value, such as "Connection terminated" sent for a number: its message says nothing here.
  if (code !== '') return false
  const message = typeof e.message === 'string' ? e.message : ''
  // "timeout expired": a Client's own connect timeout (the pool's says "timeout exceeded").
  return /timeout exceeded when trying to connect|timeout expired|Connection terminated|connection error|not queryable|Query read timeout/i.test(message)
}

/** A database error caused by the data a client sent (a type, a constraint): 400/409, named by column where known. */
export function clientProblem (err: unknown): Problem | undefined {
  const e = err as { code?: string, column?: string, message?: string }
  if (typeof e.code !== 'string') return undefined
  const about = e.column === undefined ? '' : ` (property ${e.column})`
  if (e.code === '23505') return new Problem(409, 'Conflict', 'a feature with this id already exists')
  if (e.code.startsWith('22') || e.code.startsWith('23')) return new Problem(400, 'Bad Request', `the database refused the feature${about}: ${e.message ?? ''}`)
  if (e.code === '42501') return new Problem(403, 'Forbidden', 'the database does not allow this write on this collection')
  return undefined
}

/**
 * A prepared statement's name, per distinct text: planning cost as much as running a bbox query (EXPLAIN ANALYZE:
 * 0.2–0.5 ms each), and a connection keeps its prepared statements. The texts are few (one per query shape).
 */
export function statementName (text: string): string {
  let name = statementNames.get(text)
  if (name === undefined) {
    // Hashing a statement's ~1.5 kB of text for every request cost ~2% of a request's CPU.
    if (statementNames.size >= 1000) statementNames.clear()
    name = `geotoken_${createHash('sha256').update(text).digest('base64url').slice(0, 20)}`
    statementNames.set(text, name)
  }
  return name
}
const statementNames = new Map<string, string>()

/** The organization setting for the transaction only; a named statement, parsed and planned once per connection. */
const SET_ORG = (org: string): pg.QueryConfig => ({ name: 'geotoken_set_org', text: 'select set_config($1, $2, true)', values: [ORG_SETTING, org] })
/** The same for a read of one statement, which has no BEGIN to make it read only: the setting does. */
const SET_ORG_READ_ONLY = (org: string): { name: string, text: string, values: unknown[] } =>
  ({ name: 'geotoken_set_org_read_only', text: 'select set_config($1, $2, true), set_config(\'transaction_read_only\', \'on\', true)', values: [ORG_SETTING, org] })

// node-postgres's own conversion of a bind value to its text form (numbers, strings, dates, arrays).
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (value: unknown) => string | Buffer | null }

/** What OrgScopedRead writes to: node-postgres's connection, its messages of the extended query protocol. */
interface Wire {
  stream: { cork?: () => void, uncork?: () => void, writableCorked?: number, destroy: (err?: Error) => void }
  parsedStatements: Record<string, string>
  submittedNamedStatements: Record<string, string>
  parse: (message: { text: string, name: string, types: never[] }) => void
  bind: (message: { portal: string, statement: string, values: unknown[], valueMapper: typeof prepareValue }) => void
  describe: (message: { type: 'P', name: string }) => void
  execute: (message: { portal: string }) => void
  sync: () => void
}
interface ProtocolHandlers {
  handleDataRow: (message: unknown) => void
  handleCommandComplete: (message: unknown, connection: unknown) => void
  handleReadyForQuery: (connection: unknown) => void
}
const queryHandlers = pg.Query.prototype as unknown as ProtocolHandlers

/**
 * One read statement with the organization set, as one implicit transaction: the setting's and the statement's
 * Bind/Execute followed by a single Sync. PostgreSQL runs the messages up to a Sync in one transaction and ends it
 * there (the protocol's "Pipelining" section), so the setting (set_config(..., true)) holds for the statement and
 * is gone after it, as with BEGIN and COMMIT, which this saves: two of a read's four commands
 * (docs/performance.md, PostGIS, change 9). The setting also makes the transaction read only. One statement needs no
 * isolation level: it sees one snapshot. If the setting fails, PostgreSQL skips the statement (it discards messages
 * until the Sync): fail closed. Database.read sends it only on a connection in no transaction, or on a shared one,
 * which carries nothing else: each read there is its own transaction, whatever came before it on the wire.
 *
 * The messages of all reads submitted to a connection in one turn of the event loop go out in one write (corked
 * until setImmediate): on a shared connection, one wake-up of its PostgreSQL backend for several requests.
 *
 * A pg.Query, so that node-postgres accepts it on a pipelined connection; it answers like one (callback with the
 * statement's result). node-postgres credits every ParseComplete to a query's one name: this query records the
 * statements it parsed itself, once the Sync's ReadyForQuery says both were (an error skips ReadyForQuery).
 */
class OrgScopedRead extends pg.Query {
  #settingDone = false
  readonly #parsed: Array<{ name: string, text: string }> = []
  #wire: Wire | undefined
  /** Whether this query sent a Parse: if it fails, which statements the connection holds is unsure. */
  get sentParse (): boolean { return this.#parsed.length > 0 }

  constructor (org: string, statement: { name: string, text: string, values: unknown[] }, callback: (err: Error | null | undefined, result: pg.QueryResult) => void) {
    super({ name: statement.name, text: statement.text, values: statement.values }, callback as never)
    const setting = SET_ORG_READ_ONLY(org)
    // An instance property: @types/pg declares submit as one, so it cannot be overridden as a method. An error it
    // returns fails this read alone (node-postgres does not count it as sent): so nothing may be written before it.
    this.submit = (connection: unknown): Error | undefined => {
      try { for (const v of statement.values) prepareValue(v) } catch (err) { return err instanceof Error ? err : new Error(String(err)) }
      const wire = connection as Wire
      this.#wire = wire
      const parse = (s: { name: string, text: string }): void => {
        if (wire.parsedStatements[s.name] !== undefined || wire.submittedNamedStatements[s.name] !== undefined) return
        wire.parse({ text: s.text, name: s.name, types: [] })
        wire.submittedNamedStatements[s.name] = s.text
        this.#parsed.push(s)
      }
      const stream = wire.stream
      if (stream.cork !== undefined && stream.uncork !== undefined && stream.writableCorked === 0) {
        stream.cork()
        setImmediate(stream.uncork.bind(stream))
      }
      parse(setting)
      wire.bind({ portal: '', statement: setting.name, values: setting.values, valueMapper: prepareValue })
      wire.execute({ portal: '' })
      parse(statement)
      wire.bind({ portal: '', statement: statement.name, values: statement.values, valueMapper: prepareValue })
      wire.describe({ type: 'P', name: '' })
      wire.execute({ portal: '' })
      wire.sync()
      return undefined
    }
  }

  // The setting's own row and completion are not the statement's: its Execute had no Describe, so its row comes first.
  handleDataRow (message: unknown): void { if (this.#settingDone) queryHandlers.handleDataRow.call(this, message) }
  handleCommandComplete (message: unknown, connection: unknown): void {
    if (this.#settingDone) queryHandlers.handleCommandComplete.call(this, message, connection)
    else this.#settingDone = true
  }

  handleReadyForQuery (connection: unknown): void {
    for (const s of this.#parsed) {
      if (this.#wire === undefined) break
      this.#wire.parsedStatements[s.name] = s.text
      delete this.#wire.submittedNamedStatements[s.name]
    }
    queryHandlers.handleReadyForQuery.call(this, connection)
  }
}

/**
 * Connections that carry the one-statement reads (OrgScopedRead) of many requests at once, pipelined: a pooled
 * connection serves one request per round trip, and on a loaded machine each round trip is a wake-up of a
 * PostgreSQL backend and a write of a few hundred bytes (docs/performance.md, PostGIS, change 13).
 *
 * Reads on one connection run one after the other, so a slow one holds up those behind it. A read takes the least
 * busy shared connection with fewer than MAX_IN_FLIGHT reads under way whose first read has been at the head for
 * less than SLOW_MS, and otherwise a pooled connection, as do reads known to be long (Database.read's
 * `exclusive`). node-postgres's query_timeout would count a read's time in the queue, so shared reads go without
 * it: a connection whose head read has had no answer for the statement timeout and a second more is closed (the
 * database is away, or the network), and its reads answer 503.
 *
 * A connection is opened on first use and dropped when it fails, or when a read on it failed after parsing (which
 * statements it holds is then unsure); a dropped one counts until its last read is answered.
 */
class SharedConnections {
  static readonly MAX_IN_FLIGHT = 8
  static readonly SLOW_MS = 10
  readonly #open: SharedConnection[] = []
  readonly #draining = new Set<SharedConnection>()
  readonly #count: number
  readonly #config: pg.ClientConfig
  readonly #onError: (err: unknown) => void
  readonly #watchdog: NodeJS.Timeout | undefined
  #closed = false

  /** `config` without query_timeout: `limitMs` is how long a head read may go unanswered. */
  constructor (count: number, config: pg.ClientConfig, limitMs: number, onError: (err: unknown) => void) {
    this.#count = count
    this.#config = config
    this.#onError = onError
    if (count === 0) return
    this.#watchdog = setInterval(() => {
      const now = performance.now()
      for (const c of [...this.#open, ...this.#draining]) {
        // A head read unanswered that long, or an end that a silent peer never completes (the slot stays taken).
        const stuck = c.sentAt.length > 0 ? now - headSince(c) > limitMs : c.droppedAt !== undefined && now - c.droppedAt > limitMs
        // ETIMEDOUT: the reads on it fail as unavailable (isUnavailable), by code.
        if (stuck) c.client.connection.stream.destroy(Object.assign(new Error('no answer from the database in time'), { code: 'ETIMEDOUT' }))
      }
    }, Math.max(50, Math.min(1000, limitMs / 4)))
    this.#watchdog.unref()
  }

  /** Open, and dropped but still answering the reads sent on them. */
  get counts (): { open: number, draining: number } { return { open: this.#open.length, draining: this.#draining.size } }

  /** The least busy shared connection with room, or undefined (then a pooled one). */
  take (): SharedConnection | undefined {
    if (this.#closed) return undefined
    if (this.#open.length + this.#draining.size < this.#count) return this.#connect()
    const now = performance.now()
    let least: SharedConnection | undefined
    for (const c of this.#open) {
      if (c.sentAt.length >= SharedConnections.MAX_IN_FLIGHT || (c.sentAt.length > 0 && now - headSince(c) > SharedConnections.SLOW_MS)) continue
      if (least === undefined || c.sentAt.length < least.sentAt.length) least = c
    }
    return least
  }

  #connect (): SharedConnection {
    const client = new pg.Client(this.#config) as SharedClient
    const connection: SharedConnection = { client, sentAt: [], answeredAt: 0, connected: false, droppedAt: undefined, ended: undefined, ready: client.connect().then(() => {}) }
    // The time to connect is not the head read's: it has its own limit (connectionTimeoutMillis).
    connection.ready.then(() => { connection.connected = true; connection.answeredAt = performance.now() }, () => { this.drop(connection) })
    // A connection that dies must not crash the process; its reads fail (503) and the next read opens another.
    client.on('error', err => { this.#onError(err); this.drop(connection) })
    client.on('end', () => { this.drop(connection) })
    this.#open.push(connection)
    return connection
  }

  /** No new read goes to `connection`; the reads already sent on it are answered first (pipelined end). */
  drop (connection: SharedConnection): void {
    const at = this.#open.indexOf(connection)
    if (at === -1) return
    this.#open.splice(at, 1)
    this.#draining.add(connection)
    connection.droppedAt = performance.now()
    connection.ended = this.#end(connection).finally(() => { this.#draining.delete(connection) })
  }

  /** Ends a connected client after its reads; one still connecting is destroyed (ending it mid-handshake can leave its connect unsettled). */
  async #end (connection: SharedConnection): Promise<void> {
    if (!connection.connected) connection.client.connection.stream.destroy()
    await connection.client.end().catch(() => {})
  }

  async close (): Promise<void> {
    this.#closed = true
    for (const c of [...this.#open]) this.drop(c)
    // The watchdog runs until every end has settled: an end waits for the reads under way, which it bounds.
    await Promise.all([...this.#draining].map(async c => { await c.ended }))
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog)
  }
}
type SharedClient = pg.Client & { connection: { stream: Wire['stream'] } }
interface SharedConnection {
  readonly client: SharedClient
  /** When each read under way was sent, oldest first: a pipelined connection answers in order. */
  readonly sentAt: Array<{ at: number }>
  /** When the last read was answered (or the connection opened): the head read has been there since then, or since it was sent. */
  answeredAt: number
  connected: boolean
  /** When no more reads were to go to it; it stays counted until it has ended. */
  droppedAt: number | undefined
  ended: Promise<void> | undefined
  readonly ready: Promise<void>
}
const headSince = (c: SharedConnection): number => Math.max(c.sentAt[0]?.at ?? 0, c.answeredAt)

export class Database {
  readonly pool: pg.Pool
  readonly #shared: SharedConnections
  readonly #log: Log
  #status: DatabaseStatus = 'ok'
  #probe: NodeJS.Timeout | undefined
  #probing = false

  constructor (opts: DatabaseOptions) {
    this.#log = opts.log
    const connection: pg.ClientConfig = {
      connectionString: opts.url,
      connectionTimeoutMillis: opts.timeoutMs,
      // A stuck network gets no TCP error: the client gives up a little after the server would have.
      query_timeout: opts.timeoutMs + 1000,
      application_name: 'geotoken',
      // Pipelining: BEGIN, the org setting and a request's statements go out together, one round trip, not four.
      pipeline: true,
      // UTC: timestamps are served in one form whatever the server's zone; an abandoned transaction cannot hold locks.
      options: `-c statement_timeout=${opts.timeoutMs} -c idle_in_transaction_session_timeout=${Math.max(opts.timeoutMs * 2, 10_000)} -c TimeZone=UTC`
    }
    const shared = Math.min(opts.sharedConnections ?? Math.ceil(opts.poolMax / 4), opts.poolMax - 1)
    const { query_timeout: readTimeoutMs = 0, ...withoutReadTimeout } = connection
    this.#shared = new SharedConnections(shared, withoutReadTimeout, readTimeoutMs, err => { this.#unavailable(err) })
    this.pool = new pg.Pool({ ...connection, max: opts.poolMax - shared, idleTimeoutMillis: 30_000 })
    // An idle connection that dies (server restart) must not crash the process: the next checkout reconnects.
    this.pool.on('error', err => { this.#unavailable(err) })
    if ((opts.probeMs ?? 1000) > 0) {
      this.#probe = setInterval(() => { void this.probe() }, opts.probeMs ?? 1000)
      this.#probe.unref()
    }
  }

  /** The shared connections: open, and dropped but still answering the reads sent on them. */
  get sharedConnections (): { open: number, draining: number } { return this.#shared.counts }

  /** What /ready shows: the last request or probe reaching the database, or not. */
  get status (): DatabaseStatus { return this.#status }

  /** One `select 1`: updates the status. */
  async probe (): Promise<DatabaseStatus> {
    if (this.#probing) return this.#status
    this.#probing = true
    try {
      await this.pool.query('select 1')
      if (this.#status !== 'ok') this.#log.info({ event: 'features.database_recovered' }, 'the feature database answers again')
      this.#status = 'ok'
    } catch (err) {
      this.#unavailable(err)
    } finally { this.#probing = false }
    return this.#status
  }

  #unavailable (err: unknown): void {
    // The code and message only: node-postgres errors can carry the client, with its connection parameters.
    const { code, message } = err as { code?: unknown, message?: unknown }
    if (this.#status === 'ok') this.#log.error({ event: 'features.database_unavailable', code, reason: message }, 'the feature database cannot be reached; feature requests answer 503 until it can')
    this.#status = 'database-unreachable'
  }

  /**
   * Runs `fn` in one transaction on one pooled connection, the organization set for this transaction only
   * (set_config(..., true)): once it ends, the connection carries no organization into the next request.
   */
  async withOrg<T> (org: string, readOnly: boolean, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try { client = await this.pool.connect() } catch (err) { throw this.#translate(err) }
    let broken: unknown
    try {
      // Repeatable read for reads: the count and the page of one request see the same rows. Sent without waiting
      // (pipelined with fn's statements): if either fails, fn's statements fail in the aborted transaction, and a
      // statement that ran without the setting would see no row at all (the policy compares with '').
      const started = Promise.all([
        client.query(readOnly ? 'begin isolation level repeatable read read only' : 'begin'),
        client.query(SET_ORG(org))
      ])
      started.catch(() => {}) // awaited below; fn's own failure is the one reported
      const result = await fn(client)
      await started
      await client.query('commit')
      if (this.#status !== 'ok') void this.probe()
      return result
    } catch (err) {
      if (isUnavailable(err)) broken = err
      else await client.query('rollback').catch((e: unknown) => { broken = e })
      throw this.#translate(err)
    } finally {
      // A connection that failed is not returned to the pool for the next request.
      client.release(broken === undefined ? undefined : broken instanceof Error ? broken : new Error('connection failed'))
    }
  }

  /**
   * Reads, one round trip: one statement as OrgScopedRead, on a shared connection when one has room (not when
   * `exclusive`: a statement that may run long, which would hold up the reads behind it); several as BEGIN
   * (repeatable read, so they see the same rows), the org setting, `statements` and COMMIT sent at once (pipelined)
   * on a pooled connection. The results of `statements`, in order.
   */
  async read (org: string, statements: ReadonlyArray<{ text: string, values: unknown[] }>, { exclusive = false } = {}): Promise<pg.QueryResult[]> {
    const shared = statements.length === 1 && !exclusive ? this.#shared.take() : undefined
    if (shared !== undefined) return [await this.#readShared(shared, org, statements[0] as { text: string, values: unknown[] })]
    if (statements.length === 1) return [await this.#readPooled(org, statements[0] as { text: string, values: unknown[] })]
    let client: pg.PoolClient
    try { client = await this.pool.connect() } catch (err) { throw this.#translate(err) }
    const sent = [
      client.query('begin isolation level repeatable read read only'),
      client.query(SET_ORG(org)),
      ...statements.map(async s => await client.query({ name: statementName(s.text), text: s.text, values: s.values })),
      // In a transaction a failed statement aborted, COMMIT rolls back: the connection is clean either way.
      client.query('commit')
    ]
    const settled = await Promise.allSettled(sent)
    const failed = settled.find(r => r.status === 'rejected')
    if (failed === undefined) {
      client.release()
      if (this.#status !== 'ok') void this.probe()
      return settled.slice(2, 2 + statements.length).map(r => (r as PromiseFulfilledResult<pg.QueryResult>).value)
    }
    const err: unknown = failed.reason
    client.release(isUnavailable(err) ? (err instanceof Error ? err : new Error('connection failed')) : undefined)
    throw this.#translate(err)
  }

  /** One statement with the org setting, one implicit transaction (OrgScopedRead), on a pooled connection. */
  async #readPooled (org: string, statement: { text: string, values: unknown[] }): Promise<pg.QueryResult> {
    let client: pg.PoolClient
    try { client = await this.pool.connect() } catch (err) { throw this.#translate(err) }
    // The setting lasts until the end of the transaction: in an open one (none is ever left open) it would outlive
    // this read. Fail closed.
    if (client.getTransactionStatus() !== 'I') {
      client.release(new Error('a pooled connection was in a transaction'))
      throw new Error('a pooled connection was in a transaction')
    }
    const { read, answered } = orgScopedRead(org, statement)
    try {
      void client.query(read)
      const result = await answered
      client.release()
      if (this.#status !== 'ok') void this.probe()
      return result
    } catch (err) {
      // A statement error rolled the implicit transaction back: the connection is clean, unless the database is
      // away or this read parsed a statement (which of them the connection now holds is unsure).
      client.release(isUnavailable(err) || read.sentParse ? (err instanceof Error ? err : new Error('read failed')) : undefined)
      throw this.#translate(err)
    }
  }

  async #readShared (connection: SharedConnection, org: string, statement: { text: string, values: unknown[] }): Promise<pg.QueryResult> {
    const { read, answered } = orgScopedRead(org, statement)
    const sent = { at: performance.now() }
    connection.sentAt.push(sent)
    try {
      await connection.ready
      // Dropped while this read waited for the connection (another read's failure): the pool takes it instead.
      if (connection.droppedAt !== undefined) return await this.#readPooled(org, statement)
      void connection.client.query(read)
      const result = await answered
      if (this.#status !== 'ok') void this.probe()
      return result
    } catch (err) {
      // 26000, no such statement: a read ahead of this one failed before its Parse, which this one counted on. The
      // database is fine; the connection's record of its statements is not: drop it, and the client retries.
      const lost = (err as { code?: unknown }).code === '26000'
      // As on a pooled connection: a statement error leaves it clean unless the read parsed a statement.
      if (lost || isUnavailable(err) || read.sentParse) this.#shared.drop(connection)
      if (lost) throw new DatabaseUnavailable('a statement this read needed was lost with a read that failed before it', { cause: err })
      throw this.#translate(err)
    } finally {
      // Its own entry: in order, except for a read that failed before it was sent (answered at once).
      connection.sentAt.splice(connection.sentAt.indexOf(sent), 1)
      connection.answeredAt = performance.now()
    }
  }

  #translate (err: unknown): unknown {
    if (!isUnavailable(err)) return err
    this.#unavailable(err)
    return new DatabaseUnavailable((err as Error).message ?? String(err), { cause: err })
  }

  async close (): Promise<void> {
    if (this.#probe !== undefined) clearInterval(this.#probe)
    await Promise.all([this.#shared.close(), this.pool.end()])
  }
}

function orgScopedRead (org: string, statement: { text: string, values: unknown[] }): { read: OrgScopedRead, answered: Promise<pg.QueryResult> } {
  let settle!: (err: Error | null | undefined, res: pg.QueryResult) => void
  const answered = new Promise<pg.QueryResult>((resolve, reject) => { settle = (err, res) => { if (err === undefined || err === null) resolve(res); else reject(err) } })
  return { read: new OrgScopedRead(org, { ...statement, name: statementName(statement.text) }, settle), answered }
}
