// Fastify plugin for other services: verifies geotoken access tokens against the issuer's published JWKS.
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { bearerToken } from '../shared/bearer.js'
import { OAuthError, VerifierOptionsInvalid } from '../shared/errors.js'
import guard, { sendChallenge } from './guard.js'
import { activeCheck } from './active-cache.js'
import { checkIssuerOptions, remoteIssuer, type IssuerOptions } from './issuer.js'

export interface RemoteVerifierOptions extends IssuerOptions {
  realm?: string
}

// Re-exported types also make this module's declaration file load guard.d.ts, whose augmentations declare
// app.authenticate, app.requireScope and request.user for the consumer's compiler.
export type { KeySource } from './guard.js'
export type { AccessTokenClaims } from '../tokens/claims.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler hook (after `authenticate`): asks the issuer (RFC 7662) whether the token is still active. */
    requireActive: preHandlerAsyncHookHandler
  }
}

export default fp(async function geotokenVerifier (app, opts: RemoteVerifierOptions) {
  checkIssuerOptions(opts)
  const issuer = remoteIssuer(opts)
  await app.register(guard, { ...issuer.rules, realm: opts.realm, clock: issuer.clock, keys: issuer.keys })

  const introspect = issuer.introspect
  const isActive = introspect === undefined ? undefined : activeCheck(introspect, (opts.introspection?.cacheS ?? 0) * 1000, issuer.clock)
  async function requireActive (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const token = bearerToken(request.headers.authorization) ?? ''
    // The verified exp (authenticate runs first) bounds the memory; without it nothing is remembered.
    const exp = (request.user as { exp?: unknown } | undefined)?.exp
    let active: boolean
    try {
      if (isActive === undefined) throw new Error('no introspection credentials')
      active = await isActive(token, typeof exp === 'number' ? exp : undefined)
    } catch (err) {
      // Fail closed: a route that asked for revocation checks does not serve without one.
      request.log.warn({ event: 'token.introspection_failed', reason: (err as Error).message }, 'introspection failed')
      return await reply.code(503).header('retry-after', '5').type('application/problem+json')
        .send({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the token issuer could not confirm the token' })
    }
    if (!active) return sendChallenge(reply, opts.realm ?? 'geotoken', new OAuthError('invalid_token', 'token is no longer active', 401))
  }
  app.decorate('requireActive', requireActive)
  // A route asking for introspection without credentials to do it is refused when it is declared, not when called.
  app.addHook('onRoute', route => {
    if (introspect === undefined && [route.preHandler, route.onRequest, route.preValidation].flat().includes(requireActive)) {
      throw new VerifierOptionsInvalid(`route ${route.method} ${route.url} uses requireActive, which needs the introspection option`)
    }
  })
}, { name: 'geotoken-verifier', fastify: '5.x' })
