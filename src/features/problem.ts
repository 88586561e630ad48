// Owns the feature API's error answers: every error becomes RFC 9457 problem+json with a precise detail.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Problem } from '../errors.js'
import { GeoJsonInvalid } from './geojson.js'

/**
 * Retry-After of a write the store refused. A failed write is cut back at once and the store retries a fenced
 * journal within seconds; a client that retries sooner only gets another 503, which costs no disk.
 */
const STORE_RETRY_AFTER_S = 5

/** Maps framework and domain errors to problems; anything unexpected is a generic 500 with details in the log only. */
export function toProblem (err: FastifyError | Problem | GeoJsonInvalid): Problem {
  if (err instanceof Problem) return err
  if (err instanceof GeoJsonInvalid) return new Problem(400, 'Invalid GeoJSON', err.message, err.path)
  switch (err.code) {
    case 'APP_FEATURES_UNAVAILABLE':
      return new Problem(503, 'Service Unavailable', 'the feature store cannot accept writes right now; this write was not applied; retry later', undefined, STORE_RETRY_AFTER_S)
    case 'FST_ERR_VALIDATION': {
      const v = err.validation?.[0]
      const param = v?.instancePath.replace(/^\//, '') || (v?.params as { missingProperty?: string } | undefined)?.missingProperty || err.validationContext
      const allowed = v?.keyword === 'enum' ? (v.params as { allowedValues?: unknown[] }).allowedValues : undefined
      const detail = v?.keyword === 'type' && err.validationContext === 'querystring' ? 'must be given once'
        : allowed !== undefined ? `must be one of: ${allowed.join(', ')}`
          : (v?.message ?? 'is invalid')
      return new Problem(400, 'Bad Request', `${param ?? 'request'}: ${detail}`, param)
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new Problem(415, 'Unsupported Media Type', 'send application/geo+json or application/json (application/merge-patch+json for PATCH)')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new Problem(413, 'Content Too Large', 'the request body exceeds the 1 MiB limit')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new Problem(400, 'Bad Request', 'the body is not valid JSON')
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new Problem(err.statusCode, 'Bad Request', 'the request is malformed')
  }
  return new Problem(500, 'Internal Server Error', 'the server failed to answer; the failure has been logged')
}

export function sendProblem (reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.retryAfterS !== undefined) reply.header('retry-after', String(problem.retryAfterS))
  return reply.code(problem.status).type('application/problem+json').send({
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...(problem.param !== undefined ? { parameter: problem.param } : {})
  })
}

export function problemHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = toProblem(error)
  // A refused write is logged by the store, once per distinct failure: a full disk must not log every request.
  if (problem.status >= 500 && error.code !== 'APP_FEATURES_UNAVAILABLE') request.log.error({ err: error }, 'feature API failed')
  return sendProblem(reply, problem)
}
