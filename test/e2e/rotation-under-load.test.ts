// Keys rotate (through the real script and the hot reload) while token and guarded requests are in flight.
import t from 'tap'
import { build } from '../helpers/app.js'
import { tokenOverHttp } from '../helpers/net.js'
import { addGuardedRoute } from '../helpers/guarded.js'
import { rotateKeys } from '../../scripts/rotate-keys.js'

t.test('no request fails while keys rotate under load, and tokens signed before keep verifying', async t => {
  const { app, clients, config, keysDir } = await build(t, { LOG_LEVEL: 'warn', RELOAD_INTERVAL_MS: '100', JWKS_MAX_AGE_S: '0', CLOCK_TOLERANCE_S: '0', TOKEN_RATE_PER_IP: '1000000', TOKEN_RATE_PER_CLIENT: '1000000' })
  await addGuardedRoute(app, config)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

  const issue = async (): Promise<string> => await tokenOverHttp(base, clients.acme)
  const guarded = async (token: string): Promise<number> => {
    const res = await fetch(`${base}/guarded`, { headers: { authorization: `Bearer ${token}` } })
    await res.arrayBuffer()
    return res.status
  }

  const oldToken = await issue()
  const kidsSeen = new Set<string>()
  let stop = false
  const failures: string[] = []
  let completed = 0
  const worker = async (): Promise<void> => {
    while (!stop) {
      try {
        const token = await issue()
        kidsSeen.add(JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()).kid as string)
        for (const tk of [token, oldToken]) {
          const status = await guarded(tk)
          if (status !== 200) failures.push(`guarded ${status}`)
        }
        completed++
      } catch (err) { failures.push(String(err)) }
    }
  }
  const workers = Array.from({ length: 8 }, worker)
  const io = { out () {}, err () {}, now: Date.now }
  for (let i = 0; i < 3; i++) {
    await new Promise(resolve => setTimeout(resolve, 300))
    t.equal(await rotateKeys([], { KEYS_DIR: keysDir, JWKS_MAX_AGE_S: '0', CLOCK_TOLERANCE_S: '0', RELOAD_INTERVAL_MS: '100' }, io), 0, `rotation ${i + 1}`)
  }
  await new Promise(resolve => setTimeout(resolve, 400))
  stop = true
  await Promise.all(workers)
  t.same(failures, [], 'every request succeeded')
  t.ok(completed > 50, `${completed} request rounds completed`)
  t.ok(kidsSeen.size >= 3, `tokens were signed by ${kidsSeen.size} successive keys`)
})
