// CLI: copy an existing KEYS_DIR/keyring.json and DATA_DIR/clients.json into Redis (STATE_STORE=redis), private keys
// sealed with the KEK; running it again changes nothing.
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { serializeRing, type KeyRing } from '../src/keys/keyring.js'
import { fileRingSource } from '../src/keys/store.js'
import { serializeClients, type ClientsFile } from '../src/clients/registry.js'
import { fileClientSource } from '../src/clients/store.js'
import { openStateStores } from '../src/state-store.js'
import { swallowedByNpm } from '../src/npm-options.js'
import { isMain } from './cli.js'

const USAGE = `usage: npm run migrate-to-redis -- [--dry-run] [--force]
Copies KEYS_DIR/keyring.json and DATA_DIR/clients.json into Redis (REDIS_URL); the private keys are sealed with the
key-encryption key (KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE). What Redis already holds identically is left as
it is, so the command can run again. A different key ring or registry in Redis is refused unless --force.
  --dry-run  say what would be copied; write nothing
  --force    replace a different key ring or registry in Redis (the tokens its keys signed stop verifying)
The options go after \`--\` (before it, npm takes them for itself and the script refuses to run).
Start the instances with STATE_STORE=redis afterwards; the files are left in place (keep them as a backup, 0600).`

const OPTIONS = { 'dry-run': { type: 'boolean' }, force: { type: 'boolean' }, help: { type: 'boolean' } } as const

export interface Io { out: (line: string) => void, err: (line: string) => void }

type Outcome = 'copied' | 'same' | 'refused' | 'replaced' | 'would copy' | 'would replace'

/** What to do with `local` given what Redis holds (`stored`), compared by their serialized forms. */
function plan<T> (local: T, stored: T | null, same: (a: T, b: T) => boolean, force: boolean, dry: boolean): { write: boolean, outcome: Outcome } {
  if (stored !== null && same(local, stored)) return { write: false, outcome: 'same' }
  if (stored !== null && !force) return { write: false, outcome: 'refused' }
  if (dry) return { write: false, outcome: stored === null ? 'would copy' : 'would replace' }
  return { write: true, outcome: stored === null ? 'copied' : 'replaced' }
}

const sameRing = (a: KeyRing, b: KeyRing): boolean => serializeRing(a) === serializeRing(b)
const sameClients = (a: ClientsFile, b: ClientsFile): boolean => serializeClients(a) === serializeClients(b)

/** Runs the CLI; returns the exit code (0: Redis holds the files' ring and registry, or would after a dry run). */
export async function migrateToRedis (argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  const swallowed = swallowedByNpm(env, OPTIONS, argv)
  if (swallowed !== undefined) { io.err(`migrate-to-redis: ${swallowed}`); return 2 }
  let args
  try {
    args = parseArgs({ args: argv, strict: true, options: OPTIONS }).values
  } catch (err) {
    io.err(`migrate-to-redis: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (args.help === true) { io.out(USAGE); return 0 }
  const force = args.force === true
  const dry = args['dry-run'] === true
  // The target is Redis whatever STATE_STORE says today: its checks (REDIS_URL, one KEK) apply.
  const config = loadConfig({ ...env, STATE_STORE: 'redis' })
  const files = { ring: fileRingSource(config.KEYS_DIR), clients: fileClientSource(config.DATA_DIR) }
  const ring = await files.ring.load()
  const clients = await files.clients.load()
  if (ring === null && clients === null) {
    io.err(`migrate-to-redis: neither ${files.ring.name} nor ${files.clients.name} exists: nothing to migrate`)
    return 1
  }
  const stores = await openStateStores(config, { info () {}, warn () {}, error: (o: unknown, m?: string) => { io.err(`migrate-to-redis: ${m ?? JSON.stringify(o)}`) } }, { subscribe: false })
  const outcomes: Outcome[] = []
  try {
    if (ring === null) {
      io.out(`key ring: ${files.ring.name} does not exist; the first instance to start will generate one in Redis`)
    } else {
      const outcome = await stores.ring.update(async stored => {
        const p = plan(ring, stored, sameRing, force, dry)
        return { ...(p.write ? { ring } : {}), result: p.outcome }
      })
      outcomes.push(outcome)
      io.out(`key ring: ${describe(outcome, files.ring.name, stores.ring.name)} (${ring.keys.map(k => `${k.kid}:${k.state}`).join(', ')})`)
    }
    if (clients === null) {
      io.out(`clients: ${files.clients.name} does not exist; add clients with npm run add-client`)
    } else {
      const outcome = await stores.clients.update(stored => {
        // A registry never written reads as empty: that is "nothing there", not a different registry.
        const p = plan(clients, stored.clients.length === 0 && stored.orgs.length === 0 ? null : stored, sameClients, force, dry)
        return { ...(p.write ? { file: clients } : {}), result: p.outcome }
      })
      outcomes.push(outcome)
      io.out(`clients: ${describe(outcome, files.clients.name, stores.clients.name)} (${clients.clients.length} clients, ${clients.orgs.length} organizations)`)
    }
  } catch (err) {
    const e = err as { code?: string, message?: string }
    io.err(`migrate-to-redis: ${e.code !== undefined ? `${e.code} ` : ''}${e.message ?? String(err)}`)
    return 1
  } finally {
    await stores.close()
  }
  if (outcomes.includes('refused')) {
    io.err('migrate-to-redis: Redis already holds a different key ring or registry (another deployment\'s, or changed since an ' +
      'earlier migration); nothing of it was replaced. Check REDIS_URL; --force replaces it.')
    return 1
  }
  return 0
}

function describe (outcome: Outcome, from: string, to: string): string {
  switch (outcome) {
    case 'copied': return `copied ${from} to ${to}`
    case 'same': return `${to} already holds the same content: nothing to do`
    case 'refused': return `REFUSED: ${to} holds different content; not replaced (--force replaces it)`
    case 'replaced': return `replaced the content of ${to} with ${from} (--force)`
    case 'would copy': return `dry run: would copy ${from} to ${to}`
    case 'would replace': return `dry run: would replace the content of ${to} with ${from}`
  }
}

if (isMain(import.meta.url)) {
  migrateToRedis(process.argv.slice(2), process.env, { out: l => { console.log(l) }, err: l => { console.error(l) } })
    .then(code => { process.exitCode = code }, (err: unknown) => {
      const e = err as { code?: string, message?: string }
      console.error(`migrate-to-redis: ${e.code !== undefined ? `${e.code} ` : ''}${e.message ?? String(err)}`)
      process.exitCode = 1
    })
}
