// The operations layer at the root: security headers, closing and overload 503s, metrics, /health, /ready, /docs, GET /.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { notFound } from '../shared/errors.js'
import { problemHandler, sendProblem } from '../shared/problem.js'
import metrics from './metrics-plugin.js'
import { addHealth } from './health.js'
import { addOverloadProtection, type OverloadOptions } from './overload.js'
import { addDocsUi } from './docs.js'
import { addSecurityHeaders } from './security-headers.js'
import { addHome } from './home.js'

export interface OpsOptions {
  metricsToken: string
  overload: OverloadOptions
  /** The public base URL: an https ISSUER keeps the UI's upgrade-insecure-requests. */
  issuer: string
}

export default fp(async function ops (app: FastifyInstance, opts: OpsOptions) {
  // Every answer is data for programs, never a page: nothing may load, frame or run from it (OWASP REST cheat sheet).
  // /docs replaces the CSP with its own. CORP stays same-origin: CORS reads (JWKS, features) are not affected by it.
  addSecurityHeaders(app, {
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] } }
  })
  addHealth(app, { retryAfterS: opts.overload.retryAfterS })
  await addOverloadProtection(app, opts.overload)
  await app.register(metrics, { token: opts.metricsToken })
  // Outside /oauth and /features (which answer in their own formats): RFC 9457 problems, never a stack trace.
  app.setErrorHandler(problemHandler())
  app.setNotFoundHandler(async (request, reply) => sendProblem(reply, notFound(`no resource at ${request.method} ${request.url.split('?')[0] ?? ''}`)))
  await addDocsUi(app, { secureOrigin: opts.issuer.startsWith('https://') })
  addHome(app, opts.issuer)
}, { name: 'geotoken-ops', fastify: '5.x' })
