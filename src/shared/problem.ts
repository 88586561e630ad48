// Owns RFC 9457 problem details: the one schema, the one way a problem is sent, and framework errors as problems.
import Type, { type Static } from 'typebox'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { Problem } from './errors.js'

/**
 * Every problem+json answer the service sends. `error`/`error_description` ride along where an RFC 6749/6750 client
 * may be the reader (the token endpoint's 503s, the guard's challenges); `checks` is /ready's.
 */
export const ProblemSchema = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.Optional(Type.String()),
  /** The query parameter or JSON pointer the problem is about. */
  parameter: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
  error_description: Type.Optional(Type.String()),
  checks: Type.Optional(Type.Object({}, { additionalProperties: Type.String() }))
}, { description: 'RFC 9457 problem details' })

export type ProblemBody = Static<typeof ProblemSchema>

/** Members a problem answer may carry beyond its Problem (see ProblemSchema). */
export type ProblemExtras = Pick<ProblemBody, 'error' | 'error_description' | 'checks'>

export function problemBody (problem: Problem, extras: ProblemExtras = {}): ProblemBody {
  return {
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...(problem.param !== undefined ? { parameter: problem.param } : {}),
    ...extras
  }
}

/** Sends `problem` as application/problem+json, with its Retry-After when it has one. */
export function sendProblem (reply: FastifyReply, problem: Problem, extras: ProblemExtras = {}): FastifyReply {
  if (problem.retryAfterS !== undefined) reply.header('retry-after', String(problem.retryAfterS))
  return reply.code(problem.status).type('application/problem+json').send(problemBody(problem, extras))
}

/** Fastify's own errors (validation, content type, body size) as problems; anything unknown is a bare 500. */
export function frameworkProblem (err: FastifyError | Problem): Problem {
  if (err instanceof Problem) return err
  switch (err.code) {
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

/** An error handler answering problems; a 5xx is logged in full (never sent), unless `quiet` says it was logged already. */
export function problemHandler (toProblem: (err: FastifyError) => Problem = frameworkProblem, quiet: (err: FastifyError) => boolean = () => false) {
  return function handleProblem (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const problem = toProblem(error)
    if (problem.status >= 500 && !quiet(error)) request.log.error({ err: error }, 'request failed')
    return sendProblem(reply, problem)
  }
}
