// Benchmark case: a consumer service guarding one route with geotoken tokens, its keys either fetched once at
// start-up and fixed (BENCH_KEYS=static) or kept fresh by the remote verifier plugin (BENCH_KEYS=remote).
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import guard from '../../src/verifier/guard.js'
import remoteVerifier from '../../src/verifier/remote.js'
import type { VerificationRules } from '../../src/verifier/rules.js'
import { announce } from './ready.js'

const issuer = process.env.BENCH_ISSUER ?? ''
const rules: VerificationRules = { issuer, audience: process.env.BENCH_AUDIENCE ?? '', clockToleranceS: 30, maxLifetimeS: 900 }

async function staticKeys (app: FastifyInstance): Promise<void> {
  const jwks = await (await fetch(`${issuer}/.well-known/jwks.json`)).json() as { keys: Array<JsonWebKey & { kid: string }> }
  const pems = new Map(jwks.keys.map(jwk => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }) as string]))
  await app.register(guard, { ...rules, keys: { publicKey: kid => pems.get(kid) } })
}

async function remoteKeys (app: FastifyInstance): Promise<void> {
  await app.register(remoteVerifier, { issuer, audience: rules.audience, clockToleranceS: rules.clockToleranceS, maxLifetimeS: rules.maxLifetimeS })
}

const app = Fastify({ logger: { level: 'info' } })
await (process.env.BENCH_KEYS === 'remote' ? remoteKeys(app) : staticKeys(app))
app.get('/me', { onRequest: app.authenticate, schema: { response: { 200: { type: 'object', properties: { org: { type: 'string' } } } } } },
  async request => ({ org: request.user.org }))
await app.listen({ host: '127.0.0.1', port: 0 })
announce({ port: (app.server.address() as { port: number }).port })
