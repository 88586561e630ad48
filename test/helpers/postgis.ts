// A throwaway PostgreSQL 15 + PostGIS cluster for one test file: initdb in a temp dir as the postgres user (initdb
// and postgres refuse root), a free loopback port, a socket in the temp dir; stopped (SIGINT, fast shutdown) at teardown.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import pg from 'pg'
import { freePort } from './net.js'

export interface Cluster {
  port: number
  dir: string
  /** The superuser's URL: for fixtures and catalog changes only, never for tenancy (a superuser ignores RLS). */
  adminUrl: string
  /** A URL for `role` (created by the prepare SQL) with `password`. */
  urlFor: (role: string, password: string) => string
  /** Runs SQL as the superuser (each call on a fresh connection). */
  admin: (sql: string, values?: unknown[]) => Promise<pg.QueryResult>
  /** Stops the server (SIGINT, fast shutdown); resolves once it has exited. */
  stop: () => Promise<void>
  /** Starts the stopped server again on the same port and data directory. */
  start: () => Promise<void>
}

const ADMIN_PASSWORD = 'admin-test-password'

function ids (): { uid: number, gid: number } {
  const out = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
  if (out.status !== 0) throw new Error('no postgres user: apt-get install postgresql postgresql-15-postgis-3')
  return { uid: Number(out.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

const binDir = (() => {
  const found = spawnSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'], { encoding: 'utf8' }).stdout.trim()
  return found === '' ? '' : found
})()
const bin = (name: string): string => binDir === '' ? name : join(binDir, name)

/** Whether this machine can run the tests (CI installs postgresql and postgresql-15-postgis-3). */
export const hasPostgis = ((): boolean => {
  try {
    ids()
    return spawnSync(bin('postgres'), ['--version']).status === 0 &&
      spawnSync('sh', ['-c', 'ls /usr/share/postgresql/*/extension/postgis.control']).status === 0
  } catch { return false }
})()
export const skipWithoutPostgis = hasPostgis ? false : process.env.CI !== undefined ? false : 'PostgreSQL/PostGIS not installed (apt-get install postgresql postgresql-15-postgis-3)'

async function waitReady (url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`postgres exited ${child.exitCode}:\n${log()}`)
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 })
    try {
      await client.connect()
      await client.query('select 1')
      return
    } catch { await new Promise(resolve => setTimeout(resolve, 50)) } finally { await client.end().catch(() => {}) }
  }
  throw new Error(`postgres did not accept connections:\n${log()}`)
}

/** Starts a cluster with the postgis extension in database `geotoken`; stopped and removed at the test's teardown. */
export async function startCluster (t: Pick<Test, 'teardown'>): Promise<Cluster> {
  const { uid, gid } = ids()
  const dir = mkdtempSync(join(tmpdir(), 'geotoken-pg-'))
  chownSync(dir, uid, gid)
  const pwfile = join(dir, 'pw')
  writeFileSync(pwfile, ADMIN_PASSWORD)
  chownSync(pwfile, uid, gid)
  const env = { ...process.env, HOME: dir, LC_ALL: 'C.UTF-8' }
  const init = spawnSync(bin('initdb'), ['-D', join(dir, 'data'), '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256',
    '--pwfile', pwfile, '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'], { uid, gid, env, encoding: 'utf8' })
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
  const port = await freePort()
  let child: ChildProcess | undefined
  let output = ''
  const adminUrl = `postgres://postgres:${ADMIN_PASSWORD}@127.0.0.1:${port}/geotoken`
  const start = async (): Promise<void> => {
    output = ''
    const c = spawn(bin('postgres'), ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
      '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'], { uid, gid, env, stdio: ['ignore', 'pipe', 'pipe'] })
    // A test process that dies without its teardown must not leave a server behind (fast shutdown, synchronous).
    const orphan = (): void => { c.kill('SIGINT') }
    process.once('exit', orphan)
    c.once('exit', () => { process.removeListener('exit', orphan) })
    c.stdout?.on('data', (d: Buffer) => { output += String(d) })
    c.stderr?.on('data', (d: Buffer) => { output += String(d) })
    child = c
    await waitReady(`postgres://postgres:${ADMIN_PASSWORD}@127.0.0.1:${port}/postgres`, c, () => output)
  }
  const stop = async (): Promise<void> => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    await new Promise<void>(resolve => { c.once('exit', () => { resolve() }); c.kill('SIGINT') })
  }
  t.teardown(async () => {
    await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  const admin = async (sql: string, values: unknown[] = []): Promise<pg.QueryResult> => {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    try { return await client.query(sql, values) } finally { await client.end() }
  }
  const boot = new pg.Client({ connectionString: `postgres://postgres:${ADMIN_PASSWORD}@127.0.0.1:${port}/postgres` })
  await boot.connect()
  await boot.query('create database geotoken')
  await boot.end()
  await admin('create extension postgis')
  return {
    port, dir, adminUrl, admin, stop, start,
    urlFor: (role, password) => `postgres://${encodeURIComponent(role)}:${encodeURIComponent(password)}@127.0.0.1:${port}/geotoken`
  }
}
