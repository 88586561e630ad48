// Process entry: config from the environment, listen, reload on SIGHUP, close gracefully on SIGINT/SIGTERM.
// Only types and small modules are imported statically: the application's modules take a second or more to load,
// and SIGHUP's handler is installed before them (see reloadOnSighup).
import type { FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import type { DemoClient } from './clients/store.js'
import { takenByNpm } from './npm-options.js'

// No secret in here: stdout is the log stream. The demo secrets are in a 0600 file (src/clients/demo-credentials.ts).
function banner (config: Config, demo: DemoClient[], credentials: string | undefined): string {
  const lines = [`geotoken listening on ${config.ISSUER} (pid ${process.pid}; stop it with Ctrl-C or kill ${process.pid})`]
  if (credentials !== undefined) {
    lines.push(`demo clients for ${demo.map(c => c.org).join(' and ')}: their ids and secrets are in ${credentials} (mode 0600)`)
  }
  lines.push('clients: npm run --silent clients -- list; a new one: npm run --silent add-client -- --org ORG --scopes "features:read"')
  return lines.join('\n')
}

function fail (message: string): never {
  process.stderr.write(`geotoken: ${message}\n`)
  process.exit(1)
}

// What `npm start --port 4000` and the like would set for npm instead: the settings are environment variables.
const SETTING_FLAGS = ['port', 'host', 'issuer', 'keys-dir', 'data-dir', 'log-level', 'dry-run', 'force', 'json']

/**
 * SIGHUP's default action ends the process, so the handler is installed before anything slow (loading the modules,
 * then the stores: the feature store can take seconds). A SIGHUP before the app exists is remembered and served
 * once it does: the files may have changed after the stores read them.
 */
function reloadOnSighup (): (app: FastifyInstance) => void {
  let app: FastifyInstance | undefined
  let pending = false
  const reload = (running: FastifyInstance, duringStart: boolean): void => {
    running.log.info({ event: 'reload.signal', during_start: duringStart }, 'SIGHUP: reloading keys and clients')
    void running.keys.reload()
    void running.clients.reload()
  }
  process.on('SIGHUP', () => {
    if (app !== undefined) reload(app, false)
    else pending = true
  })
  return started => {
    app = started
    if (pending) reload(started, true)
  }
}

async function main (started: (app: FastifyInstance) => void): Promise<void> {
  const taken = takenByNpm(process.env, SETTING_FLAGS).map(t => t.typed)
  const args = process.argv.slice(2)
  if (taken.length > 0 || args.length > 0) {
    fail(`${taken.length > 0 ? `npm took ${taken.join(' ')} for itself` : `unexpected argument ${args.join(' ')}`}, and nothing was started: ` +
      'geotoken takes no options; every setting is an environment variable (docs/configuration.md), e.g. PORT=4000 npm start')
  }
  const { loadConfig } = await import('./config.js')
  const { buildApp } = await import('./app.js')
  const { createDemoClients, loadClients } = await import('./clients/store.js')
  const { writeDemoCredentials } = await import('./clients/demo-credentials.js')
  let config: Config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    fail((err as Error).message)
  }
  // Demo clients belong to the one-process start: with STATE_STORE=redis every client is added with add-client.
  const demo = config.DEMO_CLIENTS && config.STATE_STORE !== 'redis' && (await loadClients(config.DATA_DIR)) === null
    ? await createDemoClients(config.DATA_DIR, new Date())
    : []
  const credentials = demo.length > 0 ? await writeDemoCredentials(config.DATA_DIR, demo) : undefined
  const app = await buildApp(config)
  started(app)
  try {
    await app.listen({ host: config.HOST, port: config.PORT })
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err
    await app.close()
    fail(`port ${config.PORT} on ${config.HOST} is already in use (another geotoken?). Stop that process, or choose ` +
      `another port with PORT (and the interface with HOST), e.g. PORT=${config.PORT === 0 ? 3001 : config.PORT + 1} npm start`)
  }
  process.stdout.write(banner(config, demo, credentials) + '\n')

  let closing = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) return
      closing = true
      app.log.info({ event: 'shutdown', signal }, 'closing: finishing in-flight requests')
      // A request that never finishes must not keep the process from stopping (orchestrators SIGKILL later anyway).
      setTimeout(() => {
        app.log.error({ event: 'shutdown.timeout', timeout_s: config.SHUTDOWN_TIMEOUT_S }, 'in-flight requests did not finish in time: exiting')
        process.exit(1)
      }, config.SHUTDOWN_TIMEOUT_S * 1000).unref()
      app.close().then(() => {
        app.log.info({ event: 'shutdown.complete' }, 'closed: in-flight requests finished, feature store flushed and closed')
        process.exit(0)
      }, (err: unknown) => { app.log.error({ err }, 'close failed'); process.exit(1) })
    })
  }
}

// A file-size limit must fail a write with EFBIG, which the feature store answers with 503 and cuts back, not kill
// the process. Node ignores SIGXFSZ, but a preloaded module can re-raise it (signal-exit, which tap preloads into
// child processes, does so when it is the only listener); a listener of our own keeps it ignored.
process.on('SIGXFSZ', () => {})

main(reloadOnSighup()).catch((err: unknown) => {
  const e = err as { code?: string, message?: string }
  process.stderr.write(`geotoken: failed to start: ${e.code !== undefined ? `${e.code} ` : ''}${e.message ?? String(err)}\n`)
  process.exit(1)
})
