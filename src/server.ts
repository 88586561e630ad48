// Process entry: config from the environment, listen, reload on SIGHUP, close gracefully on SIGINT/SIGTERM.
import { loadConfig, type Config } from './config.js'
import { buildApp } from './app.js'
import { createDemoClients, type DemoClient } from './clients/store.js'
import { loadClients } from './clients/store.js'

function banner (config: Config, demo: DemoClient[]): string {
  const lines = [`geotoken listening on ${config.ISSUER}`]
  for (const c of demo) {
    lines.push('', `demo client for org "${c.org}" (the secret is shown only now; it is stored hashed):`,
      `  curl -s -u '${c.client_id}:${c.client_secret}' -d grant_type=client_credentials ${config.ISSUER}/oauth/token`)
  }
  if (demo.length === 0) lines.push('clients: npm run clients -- list; new client: npm run add-client -- --org ORG --scopes "features:read"')
  return lines.join('\n')
}

async function main (): Promise<void> {
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
  await app.listen({ host: config.HOST, port: config.PORT })
  process.stdout.write(banner(config, demo) + '\n')

  process.on('SIGHUP', () => {
    app.log.info({ event: 'reload.signal' }, 'SIGHUP: reloading keys and clients')
    void app.keys.reload()
    void app.clients.reload()
  })
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

main().catch((err: unknown) => {
  const e = err as { code?: string, message?: string }
  process.stderr.write(`geotoken: failed to start: ${e.code !== undefined ? `${e.code} ` : ''}${e.message ?? String(err)}\n`)
  process.exit(1)
})
