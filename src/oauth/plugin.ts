// The authorization server: discovery and JWKS under /.well-known, the token endpoint under /oauth.
import type { FastifyInstance } from 'fastify'
import wellKnown from './well-known.js'
import tokenRoutes, { type TokenRouteOptions } from './token.js'

export interface OAuthOptions extends TokenRouteOptions { jwksMaxAgeS: number }

export default async function oauth (app: FastifyInstance, opts: OAuthOptions) {
  await app.register(wellKnown, { prefix: '/.well-known', issuer: opts.issuer, jwksMaxAgeS: opts.jwksMaxAgeS })
  await app.register(tokenRoutes, { prefix: '/oauth', ...opts })
}
