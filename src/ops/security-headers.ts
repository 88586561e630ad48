// Owns the security headers every answer carries: helmet's, computed once at start-up.
import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'
import type { FastifyInstance } from 'fastify'

/**
 * The headers helmet would set, captured from one run of its middleware. @fastify/helmet builds the helmet
 * middleware (and re-parses the CSP) on every request: a profile of the JWKS route showed ~9% of its CPU there.
 * The options are static, so the result is too.
 */
export function securityHeaders (options: Readonly<HelmetOptions>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: string | number | readonly string[]) { headers[name.toLowerCase()] = String(value) },
    removeHeader (name: string) { Reflect.deleteProperty(headers, name.toLowerCase()) }
  }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, () => {})
  return Object.freeze(headers)
}

/** Sets them first thing on every request; a route may still replace one (the /docs UI sets its own CSP). */
export function addSecurityHeaders (app: FastifyInstance, options: Readonly<HelmetOptions>): void {
  const headers = securityHeaders(options)
  app.addHook('onRequest', function setSecurityHeaders (_request, reply, done) {
    reply.headers(headers)
    done()
  })
}
