// Why the verifier has its own JWKS client (src/verifier/jwks-client.ts) instead of get-jwks: the same lookups
// through both, against a local JWKS server that counts its requests. get-jwks is not a dependency of geotoken;
// install it anywhere and pass that directory:
//   npm run build:bench && (mkdir -p /tmp/gj && cd /tmp/gj && npm init -y >/dev/null && npm i get-jwks@11.0.3) \
//     && node dist/bench/get-jwks-evidence.js /tmp/gj
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { JwksClient } from '../src/verifier/jwks-client.js'

interface GetJwks { getPublicKey: (s: { domain: string, alg: string, kid: string }) => Promise<string> }
const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: node dist/bench/get-jwks-evidence.js DIR_WHERE_GET_JWKS_IS_INSTALLED')
const buildGetJwks = createRequire(join(dir, 'noop.js'))('get-jwks') as (opts?: Record<string, unknown>) => GetJwks

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }

async function listen (handler: Parameters<typeof createServer>[1]): Promise<{ base: string, server: Server }> {
  const server = createServer(handler).listen(0, '127.0.0.1')
  await new Promise(resolve => server.once('listening', resolve))
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server }
}

// 1. Unknown kids (a token forged with a made-up kid, or sent before a rotation is published).
let fetches = 0
const jwks = await listen((_req, res) => { fetches++; res.setHeader('cache-control', 'max-age=300'); res.end(JSON.stringify({ keys: [jwk] })) })
const MISSES = 8
const gj = buildGetJwks({ ttl: 60_000 })
fetches = 0
for (let i = 0; i < MISSES; i++) await gj.getPublicKey({ domain: jwks.base, alg: 'RS256', kid: 'unknown' }).catch(() => {})
const gjMisses = fetches
const ours = new JwksClient({ jwksUri: `${jwks.base}/.well-known/jwks.json` })
fetches = 0
for (let i = 0; i < MISSES; i++) await ours.key('unknown', 'RS256')
const ourMisses = fetches
console.log(`${MISSES} lookups of an unknown kid: get-jwks fetched the JWKS ${gjMisses} times, JwksClient ${ourMisses} (kid-miss cooldown 30 s)`)

// 2. Cost of a lookup once the key is cached: get-jwks converts the JWK to PEM (jwk-to-pem) on every call.
async function rate (op: () => Promise<unknown>, ms = 1000): Promise<number> {
  for (let i = 0; i < 200; i++) await op()
  let n = 0
  const start = performance.now()
  while (performance.now() - start < ms) { for (let i = 0; i < 100; i++) await op(); n += 100 }
  return n / ((performance.now() - start) / 1000)
}
const gjRate = await rate(async () => await gj.getPublicKey({ domain: jwks.base, alg: 'RS256', kid: 'k1' }))
const ourRate = await rate(async () => await ours.key('k1', 'RS256'))
console.log(`cached key lookups/s: get-jwks ${Math.round(gjRate).toLocaleString('en')}, JwksClient ${Math.round(ourRate).toLocaleString('en')} (${(ourRate / gjRate).toFixed(1)}x)`)
jwks.server.close()

// 3. An issuer that accepts the connection and never answers.
const hole = await listen(() => { /* never answers */ })
const gjSlow = buildGetJwks({ fetchOptions: { timeout: 500 } })
let gjSettled = false
void gjSlow.getPublicKey({ domain: hole.base, alg: 'RS256', kid: 'k1' }).finally(() => { gjSettled = true }).catch(() => {})
const started = performance.now()
const ourOutcome = await new JwksClient({ jwksUri: `${hole.base}/.well-known/jwks.json`, timeoutMs: 500 }).key('k1', 'RS256')
  .then(() => 'answered', (err: Error & { code?: string }) => err.code ?? err.message)
const ourMs = Math.round(performance.now() - started)
await new Promise(resolve => setTimeout(resolve, 3000 - ourMs))
console.log(`never-answering issuer, timeout 500 ms: JwksClient gave ${ourOutcome} after ${ourMs} ms; get-jwks (fetchOptions.timeout 500) ${gjSettled ? 'settled' : 'still pending after 3000 ms'}`)
hole.server.closeAllConnections()
hole.server.close()
process.exit(0)
