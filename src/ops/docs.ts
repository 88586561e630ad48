// Owns the API documentation: the browsable OpenAPI UI at /docs and the inventory of every route for the schema check.
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'

export interface RouteRecord {
  readonly method: string
  readonly url: string
  /** Left out of the OpenAPI document on purpose (`schema.hide`): the document itself, the UI's assets. */
  readonly hidden: boolean
  readonly schemaParts: readonly string[]
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after the ops plugin, as registered (the OpenAPI test compares it to the document). */
    routeInventory: readonly RouteRecord[]
  }
}

/** Called at the root before any route is added, so its onRoute hook sees every later route. */
export function addRouteInventory (app: FastifyInstance): void {
  const routes: RouteRecord[] = []
  app.decorate('routeInventory', routes)
  app.addHook('onRoute', route => {
    const schema = (route.schema ?? {}) as Record<string, unknown>
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url, hidden: schema.hide === true, schemaParts: Object.keys(schema).filter(k => k !== 'hide') })
    }
  })
}

export async function addDocsUi (app: FastifyInstance, opts: { secureOrigin: boolean }): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, defaultModelsExpandDepth: 0 },
    // The UI's own CSP (hashes of its inline script and style) replaces the API's `default-src 'none'` on /docs/*.
    staticCSP: true,
    // Over plain http (local development) upgrade-insecure-requests would send the UI's requests to https.
    transformStaticCSP: header => opts.secureOrigin ? header : header.replace(/\s*upgrade-insecure-requests;?/, '')
  })
}
