// Benchmark case: bare Fastify 5 hello-world, no logging: the ceiling for any route on this machine.
// BENCH_LOGGING=production adds exactly geotoken's logging (info, its serializers and redaction, one access line
// per request): the ceiling for any route that logs as production does.
import Fastify from 'fastify'
import { AccessLog, loggerOptions } from '../../src/logger.js'
import { announce } from './ready.js'

const app = Fastify(process.env.BENCH_LOGGING === 'production'
  ? { logger: loggerOptions('info'), logController: new AccessLog() }
  : { logger: false })
app.get('/', { schema: { response: { 200: { type: 'object', properties: { hello: { type: 'string' } } } } } }, async () => ({ hello: 'world' }))
await app.listen({ host: '127.0.0.1', port: 0 })
announce({ port: (app.server.address() as { port: number }).port })
// A clean exit on SIGTERM lets `node --cpu-prof` write its profile (bench/profile.ts).
process.once('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
