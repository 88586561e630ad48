// CLI: add, list, enable, disable and delete OAuth clients in DATA_DIR/clients.json (or, with STATE_STORE=redis, in
// Redis), and rotate a client's secret; the running service reloads the file, or is told of the change by Redis.
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { addClient, deleteClient, disableClient, enableClient, rotateSecret, type ClientsFile } from '../src/clients/registry.js'
import type { ClientSource } from '../src/clients/store.js'
import { openStateStores } from '../src/state-store.js'
import { swallowedByNpm } from '../src/npm-options.js'
import { isMain } from './cli.js'

const USAGE = `usage (--silent keeps npm's own lines out of the output, so --json output is only JSON):
  npm run --silent add-client -- --org ORG --scopes "features:read features:write" [--grants "client_credentials"] [--json]
  npm run --silent clients -- list [--json]
  npm run --silent clients -- rotate-secret CLIENT_ID --grace 1h [--json]
  npm run --silent clients -- disable CLIENT_ID | enable CLIENT_ID | delete CLIENT_ID
Grant types: client_credentials (default), urn:ietf:params:oauth:grant-type:jwt-bearer, refresh_token.
rotate-secret: the old secret keeps working for --grace (s, m, h or d; 0 ends it at once), then stops.
The options go after \`--\` (before it, npm takes them for itself and the script refuses to run).
Reads DATA_DIR from the environment (with STATE_STORE=redis: REDIS_URL; a client added there can get tokens from
every instance as soon as the command returns). A secret is printed once and stored only as a hash.`

const OPTIONS = {
  org: { type: 'string' }, scopes: { type: 'string' }, grants: { type: 'string' }, grace: { type: 'string' },
  json: { type: 'boolean' }, help: { type: 'boolean' }
} as const

/** The error's code first (APP_STORE_LOCKED, APP_CLIENTS_INVALID…): what an operator or a cron wrapper matches on. */
function describe (err: unknown): string {
  const e = err as { code?: unknown, message?: string }
  return `${typeof e.code === 'string' ? `${e.code} ` : ''}${e.message ?? String(err)}`
}

export interface Io { out: (line: string) => void, err: (line: string) => void, now: () => Date }

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "90", "90s", "15m", "1h", "7d" → milliseconds; at most 30 days: a forgotten old secret must not live on. */
export function parseGrace (text: string): number | undefined {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim())
  if (m === null) return undefined
  const ms = Number(m[1]) * (UNITS[m[2] || 's'] as number)
  return ms <= 30 * 86_400_000 ? ms : undefined
}

type Change = (file: ClientsFile, id: string, now: Date) => ClientsFile | undefined
const CHANGES: Record<string, { change: Change, done: string }> = {
  disable: { change: (f, id, now) => disableClient(f, id, now), done: 'disabled (its tokens live until they expire)' },
  enable: { change: (f, id) => enableClient(f, id), done: 'enabled' },
  delete: { change: (f, id) => deleteClient(f, id), done: 'deleted (its tokens live until they expire)' }
}

export async function clientsCli (argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  const swallowed = swallowedByNpm(env, OPTIONS, argv)
  if (swallowed !== undefined) { io.err(`clients: ${swallowed}`); return 2 }
  let parsed
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: OPTIONS })
  } catch (err) {
    io.err(`clients: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const [command, arg] = positionals
  if (values.help === true || command === undefined) { io.out(USAGE); return command === undefined && values.help !== true ? 2 : 0 }
  const config = loadConfig(env)
  const stores = await openStateStores(config, { info () {}, warn () {}, error: (o: unknown, m?: string) => { io.err(`clients: ${m ?? JSON.stringify(o)}`) } }, { subscribe: false })
  try {
    return await run(stores.clients, positionals, values, io)
  } finally {
    await stores.close()
  }
}

async function run (store: ClientSource, positionals: string[], values: { org?: string, scopes?: string, grants?: string, grace?: string, json?: boolean }, io: Io): Promise<number> {
  const [command, arg] = positionals
  if (command === 'add') {
    if (values.org === undefined || values.scopes === undefined) { io.err(`clients: add needs --org and --scopes\n${USAGE}`); return 2 }
    const scopes = values.scopes.split(/\s+/).filter(s => s !== '')
    const grantTypes = values.grants?.split(/\s+/).filter(s => s !== '')
    let added
    try {
      added = await store.update(file => {
        const result = addClient(file, { org: values.org as string, scopes, grantTypes, now: io.now() })
        return { file: result.file, result }
      })
    } catch (err) {
      io.err(`clients: ${describe(err)}`)
      return 1
    }
    if (values.json === true) {
      io.out(JSON.stringify({ client_id: added.client.client_id, client_secret: added.secret }))
    } else {
      io.out(`client_id:     ${added.client.client_id}\nclient_secret: ${added.secret}\norg:           ${added.client.org}\nscopes:        ${added.client.scopes.join(' ')}\ngrants:        ${added.client.grant_types.join(' ')}\n` +
        'The secret is shown only now; it is stored as a hash.')
    }
    return 0
  }
  if (command === 'list') {
    const file = await store.load()
    const clients = (file?.clients ?? []).map(({ secret_hash: _, previous_secret_hash: _p, ...c }) => c)
    if (values.json === true) io.out(JSON.stringify(clients))
    else {
      for (const c of clients) {
        io.out(`${c.client_id}  org=${c.org}  scopes=${c.scopes.join(',')}  grants=${c.grant_types.join(',')}  ${c.disabled_at === undefined ? 'enabled' : `disabled ${c.disabled_at}`}` +
          (c.previous_secret_expires_at === undefined ? '' : `  previous secret valid until ${c.previous_secret_expires_at}`))
      }
    }
    return 0
  }
  if (command === 'rotate-secret' && arg !== undefined) {
    const graceMs = values.grace === undefined ? undefined : parseGrace(values.grace)
    if (graceMs === undefined) {
      io.err(`clients: rotate-secret needs --grace: how long the old secret keeps working, e.g. --grace 1h (s, m, h or d; at most 30d; 0 ends it at once)\n${USAGE}`)
      return 2
    }
    const rotated = await store.update(file => {
      const result = rotateSecret(file, arg, io.now(), graceMs)
      return { file: result?.file, result }
    })
    if (rotated === undefined) { io.err(`clients: no client ${arg}`); return 1 }
    if (values.json === true) {
      io.out(JSON.stringify({ client_id: arg, client_secret: rotated.secret, previous_secret_expires_at: rotated.previousExpiresAt ?? null }))
    } else {
      io.out(`client_id:     ${arg}\nclient_secret: ${rotated.secret}\n` +
        (rotated.previousExpiresAt === undefined ? 'The old secret no longer works.' : `The old secret works until ${rotated.previousExpiresAt}, then stops.`) +
        '\nThe new secret is shown only now; it is stored as a hash.')
    }
    return 0
  }
  const change = command !== undefined && Object.hasOwn(CHANGES, command) ? CHANGES[command] : undefined
  if (change !== undefined && arg !== undefined) {
    const done = await store.update(file => {
      const next = change.change(file, arg, io.now())
      return { file: next, result: next !== undefined }
    })
    if (!done) { io.err(`clients: no client ${arg}`); return 1 }
    io.out(`${arg} ${change.done}`)
    return 0
  }
  io.err(`clients: unknown command ${positionals.join(' ')}\n${USAGE}`)
  return 2
}

if (isMain(import.meta.url)) {
  clientsCli(process.argv.slice(2), process.env, { out: l => { console.log(l) }, err: l => { console.error(l) }, now: () => new Date() })
    .then(code => { process.exitCode = code }, (err: unknown) => { console.error(`clients: ${describe(err)}`); process.exitCode = 1 })
}
