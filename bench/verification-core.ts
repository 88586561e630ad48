// `npm run bench:verify`: what one access-token verification costs on each path the service has had, in one
// process, same token, same key, no verified-token cache unless named. It backs docs/verification-core.md's
// choice: the guard verifies through the core (one fast-jwt verifier per key, the PEM parsed once), not through
// @fastify/jwt's request.jwtVerify (a fast-jwt verifier created per request) nor a fast-jwt key callback (the
// PEM parsed per token).
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { createVerifier } from 'fast-jwt'
import { createVerifierCore } from '../src/verifier/core.js'
import guard from '../src/verifier/guard.js'
import { checkHeader, accessTokenProfile, fastJwtOptions, type VerificationRules } from '../src/verifier/rules.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000)

const rules: VerificationRules = { issuer: 'https://auth.example', audience: 'https://auth.example/features', clockToleranceS: 30, maxLifetimeS: 900 }
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string
const KID = 'bench-key'
const keys = { publicKey: (kid: string) => kid === KID ? pem : undefined }
const token = issue(privateKey)

function issue (key: KeyObject): string {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${part({ alg: 'RS256', typ: 'at+jwt', kid: KID })}.${part({ iss: rules.issuer, aud: rules.audience, sub: 's', client_id: 'c', org: 'acme', scope: 'features:read', jti: 'j', iat: now, exp: now + 900 })}`
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`
}

/** Operations per second of `op`, the median of ROUNDS rounds of ROUND_MS each (after one warm-up round). */
async function opsPerSecond (op: () => Promise<unknown>): Promise<number> {
  const rates: number[] = []
  for (let round = -1; round < ROUNDS; round++) {
    let n = 0
    const start = performance.now()
    while (performance.now() - start < ROUND_MS) {
      for (let i = 0; i < 50; i++) await op()
      n += 50
    }
    if (round >= 0) rates.push(n / ((performance.now() - start) / 1000))
  }
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)] as number
}

// 1. The library alone: how each path hands fast-jwt its key.
const options = fastJwtOptions(rules)
const perToken = async (): Promise<unknown> => createVerifier({ ...options, key: pem } as never)(token)
const callback = createVerifier({
  ...options,
  key: async ({ header }: { header: Record<string, unknown> }) => keys.publicKey(checkHeader(header, accessTokenProfile(rules)).kid)
} as never) as unknown as (token: string) => Promise<unknown>
const core = createVerifierCore({ ...rules, keys, clock: Date.now, cacheSize: 0 })
const cached = createVerifierCore({ ...rules, keys, clock: Date.now, cacheSize: 10_000 })

// 2. The same behind Fastify (inject: no sockets), as a guarded route sees it.
async function oldGuard (): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyJwt, {
    secret: { public: async (_request: unknown, decoded: unknown) => keys.publicKey(checkHeader((decoded as { header: Record<string, unknown> }).header, accessTokenProfile(rules)).kid) as string },
    decode: { complete: true },
    verify: options
  })
  // What the guard did before the core: request.jwtVerify with per-call options.
  app.get('/', async request => { await request.jwtVerify({ verify: { complete: false } } as never); return 'ok' })
  return app
}
async function newGuard (tokenCacheSize: number): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(guard, { ...rules, keys, tokenCacheSize })
  app.get('/', { onRequest: app.authenticate }, async () => 'ok')
  return app
}
const inject = (app: FastifyInstance) => async (): Promise<unknown> => {
  const res = await app.inject({ url: '/', headers: { authorization: `Bearer ${token}` } })
  if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}: ${res.body}`)
  return res
}

const rows: Array<[string, number]> = []
for (const [name, op] of [
  ['fast-jwt, a verifier created per token (what request.jwtVerify(options) does)', perToken],
  ['fast-jwt, key callback: PEM parsed per token (the old createTokenVerifier)', callback.bind(null, token)],
  ['core: one verifier per key, PEM parsed once (no cache)', core.bind(null, token)],
  ['core, verified-token cache hit', cached.bind(null, token)]
] as Array<[string, () => Promise<unknown>]>) rows.push([name, await opsPerSecond(op)])
const apps = [['Fastify route, old guard: @fastify/jwt request.jwtVerify', await oldGuard()],
  ['Fastify route, guard over the core (no cache)', await newGuard(0)],
  ['Fastify route, guard over the core (cache on, the default)', await newGuard(10_000)]] as Array<[string, FastifyInstance]>
for (const [name, app] of apps) rows.push([name, await opsPerSecond(inject(app))])
for (const [, app] of apps) await app.close()

const base = (name: string): number => rows.find(([n]) => n.startsWith(name))?.[1] ?? NaN
console.log(`Node ${process.version}, RSA-2048 RS256, median of ${ROUNDS} rounds of ${ROUND_MS} ms\n`)
console.log('| path | verifications/s | vs. a verifier per token |')
console.log('|---|---:|---:|')
const libraryBase = base('fast-jwt, a verifier created per token')
const routeBase = base('Fastify route, old guard')
for (const [name, rate] of rows) {
  const ratio = rate / (name.startsWith('Fastify') ? routeBase : libraryBase)
  console.log(`| ${name} | ${Math.round(rate).toLocaleString('en')} | ${ratio.toFixed(2)}x |`)
}
console.log('\n(Fastify rows are compared with the old guard route.)')
