// The OpenAPI document: well-formed, listing every route with its responses; and the browsable UI at /docs.
import t from 'tap'
import { Ajv } from 'ajv'
import type { FastifyInstance } from 'fastify'
import { build } from '../helpers/app.js'

// The parts of the OpenAPI 3.0 schema (spec.openapis.org/oas/3.0) that a generator can get wrong.
const OAS30 = {
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.0\\.\\d+$' },
    info: { type: 'object', required: ['title', 'version'], properties: { title: { type: 'string' }, version: { type: 'string' } } },
    servers: { type: 'array', items: { type: 'object', required: ['url'] } },
    paths: {
      type: 'object',
      propertyNames: { pattern: '^/' },
      additionalProperties: {
        type: 'object',
        propertyNames: { enum: ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'parameters', 'summary', 'description', 'servers'] },
        additionalProperties: {
          type: 'object',
          required: ['responses'],
          properties: {
            parameters: {
              type: 'array',
              items: {
                type: 'object',
                required: ['name', 'in'],
                properties: { in: { enum: ['query', 'header', 'path', 'cookie'] }, name: { type: 'string' }, required: { type: 'boolean' } },
                if: { properties: { in: { const: 'path' } } },
                then: { required: ['required'], properties: { required: { const: true } } }
              }
            },
            requestBody: { type: 'object', required: ['content'], properties: { content: { type: 'object', minProperties: 1 } } },
            responses: {
              type: 'object',
              minProperties: 1,
              propertyNames: { pattern: '^([1-5](\\d\\d|XX)|default)$' },
              additionalProperties: { type: 'object', required: ['description'], properties: { description: { type: 'string' } } }
            }
          }
        }
      }
    },
    components: { type: 'object' }
  }
}

interface RouteRecord { method: string, url: string, hidden: boolean, schemaParts: string[] }

/** Records every route as registered (a hook on the bare instance, before the service adds any route). */
function routeInventory (routes: RouteRecord[]) {
  return (app: FastifyInstance): void => {
    app.addHook('onRoute', route => {
      const schema = (route.schema ?? {}) as Record<string, unknown>
      for (const method of [route.method].flat()) {
        routes.push({ method, url: route.url, hidden: schema.hide === true, schemaParts: Object.keys(schema).filter(k => k !== 'hide') })
      }
    })
  }
}

// Routes left out on purpose, exactly these: the document itself, the UI and its assets, CORS preflights.
const HIDDEN = /^(\/features\/api|\/docs(\/.*)?|\/\.well-known\*|\/features\*)$/

t.test('the OpenAPI document is well-formed and lists every route with its responses', async t => {
  const inventory: RouteRecord[] = []
  const { app } = await build(t, { METRICS_TOKEN: 'metrics-token-0123456789abcdef', CORS_ORIGINS: 'https://map.example.com' }, {}, routeInventory(inventory))
  const res = await app.inject({ url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json() as { paths: Record<string, Record<string, { responses: Record<string, unknown>, parameters?: Array<{ in: string, name: string }>, requestBody?: { content: Record<string, unknown> } }>> }

  const ajv = new Ajv({ allErrors: true, strict: false })
  const valid = ajv.validate(OAS30, doc)
  t.ok(valid, `the document matches the OpenAPI 3.0 structure ${JSON.stringify(ajv.errors?.slice(0, 3))}`)
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/([^"]+)"/g)].map(m => m[1] as string)
  for (const ref of new Set(refs)) {
    const target = ref.split('/').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc)
    t.ok(target !== undefined, `$ref #/${ref} resolves`)
  }

  const routes = inventory.filter(r => r.method !== 'HEAD')
  t.ok(routes.length >= 20, `${routes.length} routes registered`)
  const hidden = routes.filter(r => r.hidden).map(r => r.url)
  t.same(hidden.filter(u => !HIDDEN.test(u)), [], 'only the expected routes are hidden from the document')
  for (const route of routes.filter(r => !r.hidden)) {
    const path = route.url.replace(/:(\w+)/g, '{$1}')
    const op = (doc.paths[path] ?? doc.paths[`${path}/`])?.[route.method.toLowerCase()]
    if (op === undefined) { t.fail(`${route.method} ${route.url} is missing from the document`); continue }
    const codes = Object.keys(op.responses)
    t.ok(codes.some(c => /^[23]/.test(c)), `${route.method} ${route.url} documents its success response (${codes.join(', ')})`)
    t.ok(route.schemaParts.includes('response'), `${route.method} ${route.url} has a response schema`)
    for (const name of [...route.url.matchAll(/:(\w+)/g)].map(m => m[1])) {
      t.ok(op.parameters?.some(p => p.in === 'path' && p.name === name), `${route.method} ${route.url} declares path parameter ${name}`)
    }
    if (['POST', 'PUT', 'PATCH'].includes(route.method)) t.ok(op.requestBody !== undefined, `${route.method} ${route.url} documents its request body`)
  }
  t.ok(doc.paths['/oauth/token']?.post?.requestBody?.content['application/x-www-form-urlencoded'], 'the token endpoint takes a form (RFC 6749 §3.2)')
  for (const path of ['/health', '/ready', '/metrics', '/oauth/token', '/.well-known/jwks.json', '/features/collections/{collectionId}/items']) {
    t.ok(doc.paths[path] !== undefined, `${path} is documented`)
  }
})

t.test('/docs serves the Swagger UI under a CSP that lets it run, and the API keeps its own', async t => {
  const { app } = await build(t)
  const ui = await app.inject({ url: '/docs' })
  t.equal(ui.statusCode, 200)
  t.match(ui.headers['content-type'], /^text\/html/)
  t.match(ui.body, /swagger-ui/)
  const csp = String(ui.headers['content-security-policy'])
  t.match(csp, /script-src 'self'/, 'the UI may load its own scripts')
  t.match(csp, /style-src 'self'/)
  t.notMatch(csp, /upgrade-insecure-requests/, 'an http ISSUER keeps the UI on http')
  const initializer = await app.inject({ url: '/docs/static/swagger-initializer.js' })
  t.equal(initializer.statusCode, 200, 'its script is served from the same origin')
  t.equal((await app.inject({ url: '/docs/json' })).statusCode, 200, 'and the document it shows')
  t.equal((await app.inject({ url: '/health' })).headers['content-security-policy'], "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'")
})
