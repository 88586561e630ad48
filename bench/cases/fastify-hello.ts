// Benchmark case: bare Fastify 5 hello-world, no logging: the ceiling for any route on this machine.
import Fastify from 'fastify'
import { announce } from './ready.js'

const app = Fastify({ logger: false })
app.get('/', { schema: { response: { 200: { type: 'object', properties: { hello: { type: 'string' } } } } } }, async () => ({ hello: 'world' }))
await app.listen({ host: '127.0.0.1', port: 0 })
announce({ port: (app.server.address() as { port: number }).port })
