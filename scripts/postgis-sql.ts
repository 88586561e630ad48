// CLI: print (or apply) the SQL that prepares the tables of a collections file for geotoken: role, grants, RLS, index.
import { parseArgs } from 'node:util'
import pg from 'pg'
import { readCollections } from '../src/features/postgis/collections.js'
import { prepareSql } from '../src/features/postgis/prepare.js'
import { swallowedByNpm } from '../src/npm-options.js'
import { isMain } from './cli.js'

const USAGE = `usage: npm run postgis-sql -- --collections FILE [--role NAME] [--apply]
  --collections FILE  the collections file (FEATURE_COLLECTIONS_FILE) whose tables to prepare
  --role NAME         the login role geotoken connects as (default geotoken)
  --apply             run the SQL on DATABASE_URL (a superuser) in one transaction, instead of printing it
GEOTOKEN_DB_PASSWORD, when set, becomes the role's password (otherwise set one yourself).
The options go after \`--\` (before it, npm takes them for itself and the script refuses to run).`

const OPTIONS = { collections: { type: 'string' }, role: { type: 'string' }, apply: { type: 'boolean' }, help: { type: 'boolean' } } as const

export interface Io { out: (line: string) => void, err: (line: string) => void }

export async function postgisSql (argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  const swallowed = swallowedByNpm(env, OPTIONS, argv)
  if (swallowed !== undefined) { io.err(`postgis-sql: ${swallowed}`); return 2 }
  let args
  try {
    args = parseArgs({ args: argv, strict: true, options: OPTIONS }).values
  } catch (err) {
    io.err(`postgis-sql: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (args.help === true) { io.out(USAGE); return 0 }
  if (args.collections === undefined) { io.err(`postgis-sql: --collections is required\n${USAGE}`); return 2 }
  const role = args.role ?? 'geotoken'
  if (!/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(role)) { io.err(`postgis-sql: --role ${JSON.stringify(role)} is not a plain SQL identifier`); return 2 }
  const collections = await readCollections(args.collections)
  const password = env.GEOTOKEN_DB_PASSWORD === undefined || env.GEOTOKEN_DB_PASSWORD === '' ? {} : { password: env.GEOTOKEN_DB_PASSWORD }
  const sql = prepareSql(collections, { role, ...password })
  if (args.apply !== true) { io.out(sql.trimEnd()); return 0 }
  if (env.DATABASE_URL === undefined || env.DATABASE_URL === '') { io.err('postgis-sql: --apply needs DATABASE_URL (an administrator of the tables)'); return 2 }
  const client = new pg.Client({ connectionString: env.DATABASE_URL })
  await client.connect()
  try {
    await client.query('begin')
    await client.query(sql)
    await client.query('commit')
  } catch (err) {
    await client.query('rollback').catch(() => {})
    throw err
  } finally { await client.end() }
  io.out(`prepared ${collections.map(c => `${c.id} (${c.table})`).join(', ')} for role ${role}`)
  return 0
}

if (isMain(import.meta.url)) {
  postgisSql(process.argv.slice(2), process.env, { out: l => { console.log(l) }, err: l => { console.error(l) } })
    .then(code => { process.exitCode = code }, (err: unknown) => {
      const e = err as { code?: string, message?: string }
      console.error(`postgis-sql: ${e.code !== undefined ? `${e.code} ` : ''}${e.message ?? String(err)}`)
      process.exitCode = 1
    })
}
