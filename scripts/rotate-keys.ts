// CLI: rotate the signing keys in KEYS_DIR or, with STATE_STORE=redis, in Redis (cron-safe), or remove a compromised key at once.
import { parseArgs } from 'node:util'
import { loadConfig, minPublishMs, retentionMs } from '../src/config.js'
import { newRingKey } from '../src/keys/generate.js'
import { openStateStores } from '../src/state-store.js'
import { emergency, rotate } from '../src/keys/rotation.js'
import { checkRing, type KeyRing } from '../src/keys/keyring.js'
import { swallowedByNpm } from '../src/npm-options.js'
import { isMain } from './cli.js'

const USAGE = `usage: npm run rotate-keys -- [--dry-run] [--force] [--emergency KID] [--reseal]
  (no option)      promote next to current, retire current, add a new next, delete expired retired keys
  --dry-run        print what the rotation would do; change nothing
  --force          rotate even if the next key is too new for remote caches (prints a warning)
  --emergency KID  the key KID is compromised: remove it now; tokens it signed stop verifying
  --reseal         STATE_STORE=redis, during a KEK rotation: store the ring unchanged, sealed with the first KEK
The options go after \`--\` (before it, npm takes them for itself and the script refuses to run).
Reads KEYS_DIR, KEY_SIZE, ACCESS_TOKEN_TTL_S, CLOCK_TOLERANCE_S, JWKS_MAX_AGE_S, RELOAD_INTERVAL_MS from the environment;
with STATE_STORE=redis, the ring in REDIS_URL (KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE opens it). Two rotations
at once never both apply: the second waits for the file lock, or (Redis) finds the ring changed and writes nothing.`

const OPTIONS = { 'dry-run': { type: 'boolean' }, force: { type: 'boolean' }, emergency: { type: 'string' }, reseal: { type: 'boolean' }, help: { type: 'boolean' } } as const

export interface Io { out: (line: string) => void, err: (line: string) => void, now: () => number }

const iso = (ms: number | undefined): string => ms === undefined ? '-' : new Date(ms).toISOString()

export function ringTable (ring: KeyRing, retention: number): string {
  const rows = ring.keys.map(k => [k.kid, k.state, iso(k.createdAt), iso(k.activatedAt), iso(k.retiredAt),
    k.retiredAt === undefined ? '-' : iso(k.retiredAt + retention)])
  const header = ['kid', 'state', 'published', 'signing since', 'retired', 'deleted after']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] as string).length)))
  return [header, ...rows].map(r => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n')
}

/**
 * A kid is base64url, so one in 64 starts with "-", and parseArgs refuses `--emergency -abc…` as ambiguous:
 * the operator removing a compromised key would get a usage error. The value after --emergency is its value.
 */
function joinEmergencyValue (argv: readonly string[]): string[] {
  const joined: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    joined.push(arg === '--emergency' && i + 1 < argv.length ? `--emergency=${argv[++i] as string}` : arg)
  }
  return joined
}

/** Runs the CLI; returns the exit code. */
export async function rotateKeys (argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  const swallowed = swallowedByNpm(env, OPTIONS, argv)
  if (swallowed !== undefined) { io.err(`rotate-keys: ${swallowed}`); return 2 }
  let args
  try {
    args = parseArgs({ args: joinEmergencyValue(argv), strict: true, options: OPTIONS }).values
  } catch (err) {
    io.err(`rotate-keys: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (args.help === true) { io.out(USAGE); return 0 }
  const options = args
  const config = loadConfig(env)
  const retention = retentionMs(config)
  const fresh = await newRingKey(config.KEY_SIZE, io.now())
  const stores = await openStateStores(config, { info () {}, warn () {}, error: (o: unknown, m?: string) => { io.err(`rotate-keys: ${m ?? JSON.stringify(o)}`) } }, { subscribe: false })
  const where = stores.ring.name
  if (options.reseal === true) {
    try { return await reseal() } finally { await stores.close() }
  }
  try {
    const { code, stored } = await stores.ring.update(async ring => decide(ring))
    // Printed once the write is in: a rotation that lost the race to another (Redis) prints only the conflict.
    if (stored !== undefined) io.out(ringTable(stored, retention))
    return code
  } catch (err) {
    if ((err as { code?: string }).code !== 'APP_STORE_CONFLICT') throw err
    io.err(`rotate-keys: APP_STORE_CONFLICT ${(err as Error).message}; run it again to rotate the new ring (a second rotation this soon is refused unless --force)`)
    return 1
  } finally {
    await stores.close()
  }

  /** The ring as it is, stored again: every key sealed with the current (first) KEK, so the old KEK can go. */
  async function reseal (): Promise<number> {
    if (!stores.redis) { io.err('rotate-keys: --reseal applies to STATE_STORE=redis only: keyring.json is not sealed'); return 2 }
    const ring = await stores.ring.update(async ring => ({ ...(ring === null || options['dry-run'] === true ? {} : { ring }), result: ring }))
    if (ring === null) { io.err(`rotate-keys: no key ring in ${where}: nothing to reseal`); return 1 }
    io.out(`${options['dry-run'] === true ? 'dry run: would reseal' : 'resealed'} ${ring.keys.length} keys in ${where} with the current KEK; the ring is unchanged:`)
    io.out(ringTable(ring, retention))
    return 0
  }

  /** The rotation on `ring`: the ring to store (none for a refusal or a dry run) and the exit code. */
  function decide (ring: KeyRing | null): { ring?: KeyRing, result: { code: number, stored?: KeyRing } } {
    const now = io.now()
    if (ring === null) {
      io.err(`rotate-keys: no key ring in ${where}: start the service once to create it`)
      return { result: { code: 1 } }
    }
    let next: KeyRing
    if (options.emergency !== undefined) {
      const result = emergency(ring, options.emergency, fresh, now)
      if (result === undefined) { io.err(`rotate-keys: no key with kid ${options.emergency} in ${where}`); return { result: { code: 1 } } }
      next = result
      io.err(`rotate-keys: EMERGENCY: key ${options.emergency} removed; tokens it signed no longer verify here, ` +
        `and remote verifiers drop it when their JWKS cache (max-age ${config.JWKS_MAX_AGE_S} s) expires`)
    } else {
      const result = rotate(ring, fresh, now, { minPublishMs: minPublishMs(config), retentionMs: retention }, options.force === true)
      if ('refused' in result) {
        // The table and the date it becomes possible: a refusal alone leaves the operator guessing (a fresh install
        // refuses its first rotation for JWKS_MAX_AGE_S + CLOCK_TOLERANCE_S, ~5.5 minutes with the defaults).
        const wait = Math.max(1, Math.ceil((result.allowedAt - now) / 1000))
        io.err(`rotate-keys: refused${options['dry-run'] === true ? ' (dry run)' : ''}: ${result.refused}.\n` +
          `A next key signs only once every verifier's cached JWKS can contain it: JWKS_MAX_AGE_S (${config.JWKS_MAX_AGE_S} s) ` +
          `+ CLOCK_TOLERANCE_S (${config.CLOCK_TOLERANCE_S} s) + two reload intervals after it was published.\n` +
          `The rotation is allowed from ${iso(result.allowedAt)} (in ${wait} s); --force rotates now and may make ` +
          'remote verifiers refuse tokens until their cache expires. Nothing was changed; the ring is:')
        io.out(ringTable(ring, retention))
        return { result: { code: 1 } }
      }
      for (const reason of result.overridden) io.err(`rotate-keys: WARNING (--force): ${reason}`)
      if (result.removed.length > 0) io.out(`deleted expired retired keys: ${result.removed.join(', ')}`)
      next = result.ring
    }
    checkRing(next)
    if (options['dry-run'] === true) {
      io.out('dry run: nothing was changed; the ring would be:')
      io.out(ringTable(next, retention))
      return { result: { code: 0 } }
    }
    return { ring: next, result: { code: 0, stored: next } }
  }
}

if (isMain(import.meta.url)) {
  rotateKeys(process.argv.slice(2), process.env, { out: l => { console.log(l) }, err: l => { console.error(l) }, now: Date.now })
    .then(code => { process.exitCode = code }, (err: unknown) => {
      const e = err as { code?: string, message?: string }
      console.error(`rotate-keys: ${e.code !== undefined ? `${e.code} ` : ''}${e.message ?? String(err)}`)
      process.exitCode = 1
    })
}
