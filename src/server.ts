// Process entry: config from the environment, listen, reload on SIGHUP, close gracefully on SIGINT/SIGTERM.
// Only types are imported statically: the application's modules take a second or more to load, and SIGHUP's handler
// is installed before them (see reloadOnSighup).
import type { FastifyInstance } from 'fastify'
import type { Config } from './config.js'
import type { DemoClient } from './clients/store.js'

function banner (config: Config, demo: DemoClient[]): string {
  const lines = [`geotoken listening on ${config.ISSUER}`]
  for (const c of demo) {
    lines.push('', `demo client for org "${c.org}" (the secret is shown only now; it is stored hashed):`,
      `  curl -s -u '${c.client_id}:${c.client_secret}' -d grant_type=client_credentials ${config.ISSUER}/oauth/token`)
  }
  if (demo.length === 0) lines.push('clients: npm run clients -- list; new client: npm run add-client -- --org ORG --scopes "features:read"')
  return lines.join('\n')
}

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
  const { loadConfig } = await import('./config.js')
  const { buildApp } = await import('./app.js')
  const { createDemoClients, loadClients } = await import('./clients/store.js')
  let config: Config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    process.stderr.write(`geotoken: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const demo = config.DEMO_CLIENTS && (await loadClients(config.DATA_DIR)) === null
    ? await createDemoClients(config.DATA_DIR, new Date())
    : []
  const app = await buildApp(config)
  started(app)
  await app.listen({ host: config.HOST, port: config.PORT })
  process.stdout.write(banner(config, demo) + '\n')

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
