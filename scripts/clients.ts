// CLI: add, list and disable OAuth clients in DATA_DIR/clients.json; the running service reloads it.
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { loadConfig } from '../src/config.js'
import { addClient, disableClient } from '../src/clients/registry.js'
import { loadClients, updateClients } from '../src/clients/store.js'

const USAGE = `usage:
  npm run add-client -- --org ORG --scopes "features:read features:write" [--grants "client_credentials"] [--json]
  npm run clients -- list [--json]
  npm run clients -- disable CLIENT_ID
Grant types: client_credentials (default), urn:ietf:params:oauth:grant-type:jwt-bearer, refresh_token.
Reads DATA_DIR from the environment. The secret is printed once and stored only as a hash.`

/** The error's code first (APP_STORE_LOCKED, APP_CLIENTS_INVALID…): what an operator or a cron wrapper matches on. */
function describe (err: unknown): string {
  const e = err as { code?: unknown, message?: string }
  return `${typeof e.code === 'string' ? `${e.code} ` : ''}${e.message ?? String(err)}`
}

export interface Io { out: (line: string) => void, err: (line: string) => void, now: () => Date }

export async function clientsCli (argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { org: { type: 'string' }, scopes: { type: 'string' }, grants: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } } })
  } catch (err) {
    io.err(`clients: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const [command, arg] = positionals
  if (values.help === true || command === undefined) { io.out(USAGE); return command === undefined && values.help !== true ? 2 : 0 }
  const dir = loadConfig(env).DATA_DIR

  if (command === 'add') {
    if (values.org === undefined || values.scopes === undefined) { io.err(`clients: add needs --org and --scopes\n${USAGE}`); return 2 }
    const scopes = values.scopes.split(/\s+/).filter(s => s !== '')
    const grantTypes = values.grants?.split(/\s+/).filter(s => s !== '')
    let added
    try {
      added = await updateClients(dir, file => {
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
    const file = await loadClients(dir)
    const clients = (file?.clients ?? []).map(({ secret_hash: _, ...c }) => c)
    if (values.json === true) io.out(JSON.stringify(clients))
    else for (const c of clients) io.out(`${c.client_id}  org=${c.org}  scopes=${c.scopes.join(',')}  grants=${c.grant_types.join(',')}  ${c.disabled_at === undefined ? 'enabled' : `disabled ${c.disabled_at}`}`)
    return 0
  }
  if (command === 'disable' && arg !== undefined) {
    const done = await updateClients(dir, file => {
      const next = disableClient(file, arg, io.now())
      return { file: next, result: next !== undefined }
    })
    if (!done) { io.err(`clients: no client ${arg}`); return 1 }
    io.out(`disabled ${arg}`)
    return 0
  }
  io.err(`clients: unknown command ${command}\n${USAGE}`)
  return 2
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  clientsCli(process.argv.slice(2), process.env, { out: l => { console.log(l) }, err: l => { console.error(l) }, now: () => new Date() })
    .then(code => { process.exitCode = code }, (err: unknown) => { console.error(`clients: ${describe(err)}`); process.exitCode = 1 })
}
