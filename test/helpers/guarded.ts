// A route of the tests' own behind the in-process guard, as the feature API will use it.
import type { FastifyInstance } from 'fastify'
import guard from '../../src/verifier/guard.js'
import { verificationRules } from '../../src/app.js'
import type { Config } from '../../src/config.js'

export async function addGuardedRoute (app: FastifyInstance, config: Config): Promise<void> {
  await app.register(async scope => {
    await scope.register(guard, { ...verificationRules(config), keys: app.keys })
    scope.get('/guarded', { onRequest: scope.authenticate, preHandler: scope.requireScope('features:read') },
      async request => ({ org: request.user.org, sub: request.user.sub }))
    scope.post('/guarded', { onRequest: scope.authenticate, preHandler: scope.requireScope('features:write') },
      async request => ({ org: request.user.org }))
  })
}
