// Fastify plugin for other services: verifies geotoken access tokens against the issuer's published JWKS.
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { OAuthError, VerifierOptionsInvalid } from '../shared/errors.js'
import guard, { sendChallenge } from './guard.js'
import { ActiveAnswers } from './active-cache.js'
import { checkIssuerOptions, remoteIssuer, type IssuerOptions } from './issuer.js'

export interface RemoteVerifierOptions extends IssuerOptions {
  realm?: string
}

// Re-exported types also make this module's declaration file load guard.d.ts, whose augmentations declare
// app.authenticate, app.requireScope and request.user for the consumer's compiler.
export type { KeySource } from './guard.js'
export type { AccessTokenClaims } from '../tokens/access-token.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler hook (after `authenticate`): asks the issuer (RFC 7662) whether the token is still active. */
    requireActive: preHandlerAsyncHookHandler
  }
}

function checkOptions (opts: RemoteVerifierOptions): void {
  const bad = (what: string): never => { throw new VerifierOptionsInvalid(what) }
  let url: URL | undefined
  try { url = new URL(opts.issuer) } catch { bad(`issuer ${JSON.stringify(opts.issuer)} is not an absolute URL`) }
  if (url?.protocol !== 'https:' && url?.protocol !== 'http:') bad(`issuer ${JSON.stringify(opts.issuer)} must be http(s)`)
  if (opts.issuer.endsWith('/') || url?.search !== '' || url?.hash !== '') bad(`issuer ${JSON.stringify(opts.issuer)} must have no trailing slash, query or fragment`)
  if (typeof opts.audience !== 'string' || opts.audience === '') bad(`audience ${JSON.stringify(opts.audience)} must be a non-empty string`)
  for (const name of ['clockToleranceS', 'maxLifetimeS'] as const) {
    const v = opts[name]
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) bad(`${name} ${JSON.stringify(v)} must be a non-negative integer`)
  }
  const intro = opts.introspection
  if (intro !== undefined) {
    // Usually read from the environment: an unset variable arrives here as undefined or "". Name which one.
    const missing = (['clientId', 'clientSecret'] as const).filter(k => typeof intro[k] !== 'string' || intro[k] === '')
    if (missing.length > 0) {
      bad(`${missing.map(k => `introspection.${k} is ${JSON.stringify(intro[k]) ?? 'undefined'}`).join(' and ')}: ` +
        'give the id and secret of a client with the tokens:introspect scope, or leave introspection out (it is optional; without it requireActive is unavailable)')
    }
  }
}

export default fp(async function geotokenVerifier (app, opts: RemoteVerifierOptions) {
  checkIssuerOptions(opts)
  const issuer = remoteIssuer(opts)
  await app.register(guard, { ...issuer.rules, realm: opts.realm, clock: issuer.clock, keys: issuer.keys })

  const introspect = issuer.introspect
  const clock = issuer.clock
  const answers = new ActiveAnswers((opts.introspection?.cacheS ?? 0) * 1000)
  async function requireActive (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const token = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? ''
    if (answers.has(token, clock())) return
    let active: boolean
    try {
      if (introspect === undefined) throw new Error('no introspection credentials')
      active = await introspect(token)
    } catch (err) {
      // Fail closed: a route that asked for revocation checks does not serve without one.
      request.log.warn({ event: 'token.introspection_failed', reason: (err as Error).message }, 'introspection failed')
      return await reply.code(503).header('retry-after', '5').type('application/problem+json')
        .send({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the token issuer could not confirm the token' })
    }
    if (!active) return sendChallenge(reply, opts.realm ?? 'geotoken', new OAuthError('invalid_token', 'token is no longer active', 401))
    // The verified exp (authenticate runs first) bounds the memory; without it nothing is remembered.
    const exp = (request.user as { exp?: unknown } | undefined)?.exp
    if (typeof exp === 'number') answers.remember(token, exp, clock())
  }
  app.decorate('requireActive', requireActive)
  // A route asking for introspection without credentials to do it is refused when it is declared, not when called.
  app.addHook('onRoute', route => {
    if (introspect === undefined && [route.preHandler, route.onRequest, route.preValidation].flat().includes(requireActive)) {
      throw new VerifierOptionsInvalid(`route ${route.method} ${route.url} uses requireActive, which needs the introspection option`)
    }
  })
}, { name: 'geotoken-verifier', fastify: '5.x' })
