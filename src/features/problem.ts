// Owns the feature API's error answers: its own errors as RFC 9457 problems, framework errors as everywhere else.
import type { FastifyError } from 'fastify'
import { Problem } from '../shared/errors.js'
import { frameworkProblem, problemHandler } from '../shared/problem.js'
import { GeoJsonInvalid } from './geojson.js'

/**
 * Retry-After of a write the store refused. A failed write is cut back at once and the store retries a fenced
 * journal within seconds; a client that retries sooner only gets another 503, which costs no disk.
 */
const STORE_RETRY_AFTER_S = 5

/** Retry-After while the feature database is unreachable: readiness probes it every second, a restart takes seconds. */
const DATABASE_RETRY_AFTER_S = 5

export function toFeatureProblem (err: FastifyError | Problem | GeoJsonInvalid): Problem {
  if (err instanceof GeoJsonInvalid) return new Problem(400, 'Invalid GeoJSON', err.message, err.path)
  if (!(err instanceof Problem) && err.code === 'APP_FEATURES_UNAVAILABLE') {
    return new Problem(503, 'Service Unavailable', 'the feature store cannot accept writes right now; this write was not applied; retry later', undefined, STORE_RETRY_AFTER_S)
  }
  if (!(err instanceof Problem) && err.code === 'APP_FEATURES_DATABASE_UNAVAILABLE') {
    return new Problem(503, 'Service Unavailable', 'the feature database cannot be reached right now; nothing was read or written; retry later', undefined, DATABASE_RETRY_AFTER_S)
  }
  return frameworkProblem(err)
}

// A refused write is logged by the store, once per distinct failure: a full disk must not log every request; an
// unreachable database is logged once when it goes and once when it is back.
export const featureProblemHandler = problemHandler(toFeatureProblem, err => err.code === 'APP_FEATURES_UNAVAILABLE' || err.code === 'APP_FEATURES_DATABASE_UNAVAILABLE')
