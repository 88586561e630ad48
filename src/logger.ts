// Owns logging policy: pino options for Fastify, the one place to audit what may reach a log line.
import { LogController, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { DestinationStream } from 'pino'
import { redactUrl } from './shared/redact-url.js'

// Explicit, case-sensitive paths (pino: wildcards cost more), the safety net if a line ever carries them.
// None under `req`: its serializer below keeps four fields and never headers or a body, whatever is logged as
// `req`, and a `req.*` path would make pino copy and scan every access line (~20% of a line's cost).
export const REDACT_PATHS = [
  'headers.authorization',
  'body.client_secret',
  'body.assertion',
  'body.refresh_token',
  'body.token',
  'client_secret',
  'access_token',
  'refresh_token',
  'assertion',
  'privateKey',
  'privateJwk'
]

export { redactUrl }

export function loggerOptions (level: string, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      req (request: { method: string, url: string, id: string, ip?: string }) {
        return { method: request.method, url: redactUrl(request.url), id: request.id, remoteAddress: request.ip }
      }
    },
    ...(stream !== undefined ? { stream } : {})
  }
}

/**
 * One access line per request, when it is answered, carrying what Fastify's two lines (arrival and
 * completion) carry between them: request id, method, redacted URL, status and time. Half the log volume.
 */
export class AccessLog extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}
