// Benchmark case: the machine's RS256 signing limit, node:crypto's async sign keeping every core busy, no HTTP.
// Signs a JWS input the size of a geotoken access token with a fresh RSA-2048 key, as many in flight as it takes.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { availableParallelism } from 'node:os'

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const IN_FLIGHT = availableParallelism() * 8
const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: randomBytes(32).toString('base64url') })).toString('base64url')
const claims = { iss: 'http://127.0.0.1:3000', sub: 'acme-0123456789abcdef', aud: 'http://127.0.0.1:3000/features', client_id: 'acme-0123456789abcdef', org: 'acme', scope: 'features:read features:write', iat: 1, exp: 901, jti: randomBytes(16).toString('base64url') }
const input = Buffer.from(`${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`)

/** Signs for `ms` milliseconds; answers what the runner reports for an HTTP case. */
async function run (ms: number): Promise<{ rps: number, p50: number, p99: number, errors: number }> {
  const latencies: number[] = []
  const start = performance.now()
  const end = start + ms
  let errors = 0
  await new Promise<void>(resolve => {
    let running = 0
    const next = (): void => {
      if (performance.now() >= end) { if (--running === 0) resolve(); return }
      const t0 = performance.now()
      sign('sha256', input, privateKey, err => {
        if (err !== null) errors++
        latencies.push(performance.now() - t0)
        next()
      })
    }
    for (; running < IN_FLIGHT; running++) next()
  })
  const elapsed = (performance.now() - start) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), errors }
}

process.on('message', (message: { run?: number }) => {
  if (message.run !== undefined) void run(message.run).then(result => process.send?.({ result }))
})
process.send?.({ ready: { port: 0 } })
