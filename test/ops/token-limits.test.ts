// Rate limits and the failed-authentication lockout on POST /oauth/token.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { basic, build, form } from '../helpers/app.js'

const post = async (app: FastifyInstance, headers: Record<string, string> = {}, payload = 'grant_type=client_credentials', remoteAddress?: string) =>
  await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...headers }, payload, ...(remoteAddress !== undefined ? { remoteAddress } : {}) })

t.test('per IP: 429 with Retry-After and an RFC 6749 error body once the limit is reached', async t => {
  const { app, clients } = await build(t, { TOKEN_RATE_PER_IP: '3', TOKEN_RATE_WINDOW_S: '60' })
  const auth = basic(clients.acme.id, clients.acme.secret)
  for (let i = 0; i < 3; i++) t.equal((await post(app, auth)).statusCode, 200, `request ${i + 1} is answered`)
  const limited = await post(app, auth)
  t.equal(limited.statusCode, 429)
  const retryAfter = Number(limited.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After is whole seconds within the window (${retryAfter})`)
  t.same(limited.json(), { error: 'temporarily_unavailable', error_description: 'too many token requests; retry later' })
  t.equal(limited.headers['cache-control'], 'no-store')
  t.equal((await post(app, basic(clients.globex.id, clients.globex.secret))).statusCode, 429, 'another client from the same IP is limited too')
  t.equal((await post(app, auth, undefined, '192.0.2.7')).statusCode, 200, 'another IP is not')
})

t.test('X-Forwarded-For picks the client IP only from a trusted proxy', async t => {
  const spoofed = await build(t, { TOKEN_RATE_PER_IP: '2' })
  const auth = basic(spoofed.clients.acme.id, spoofed.clients.acme.secret)
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) statuses.push((await post(spoofed.app, { ...auth, 'x-forwarded-for': `198.51.100.${i}` })).statusCode)
  t.same(statuses, [200, 200, 429], 'without TRUST_PROXY a forged X-Forwarded-For does not escape the per-IP limit')

  const proxied = await build(t, { TOKEN_RATE_PER_IP: '2', TRUST_PROXY: '127.0.0.1' })
  const auth2 = basic(proxied.clients.acme.id, proxied.clients.acme.secret)
  const behind: number[] = []
  for (let i = 0; i < 3; i++) behind.push((await post(proxied.app, { ...auth2, 'x-forwarded-for': `198.51.100.${i}` })).statusCode)
  t.same(behind, [200, 200, 200], 'behind a trusted proxy each forwarded client IP has its own budget')
  t.equal((await post(proxied.app, { ...auth2, 'x-forwarded-for': '198.51.100.0' })).statusCode, 200)
  t.equal((await post(proxied.app, { ...auth2, 'x-forwarded-for': '198.51.100.0' })).statusCode, 429, 'and it is enforced')
})

t.test('per client id: 429 for that client only, whichever authentication method it uses', async t => {
  const { app, clients } = await build(t, { TOKEN_RATE_PER_CLIENT: '2' })
  t.equal((await post(app, basic(clients.acme.id, clients.acme.secret))).statusCode, 200)
  t.equal((await post(app, {}, `grant_type=client_credentials&client_id=${clients.acme.id}&client_secret=${clients.acme.secret}`)).statusCode, 200)
  const limited = await post(app, basic(clients.acme.id, clients.acme.secret))
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) >= 1)
  t.equal(limited.json().error, 'temporarily_unavailable')
  t.equal((await post(app, basic(clients.globex.id, clients.globex.secret))).statusCode, 200, 'another client is unaffected')
})

t.test('repeated failed authentication locks the client id out, exponentially, and unknown ids behave the same', async t => {
  let now = Date.now()
  const { app, clients, logs } = await build(t, { AUTH_LOCKOUT_AFTER: '3', AUTH_LOCKOUT_BASE_S: '2', AUTH_LOCKOUT_MAX_S: '60' }, { clock: () => now })
  const known = clients.acme
  const unknownId = 'acme-0000000000000000'

  /** The observable answers for one id: status and Retry-After of each attempt. */
  const run = async (id: string, secrets: string[]): Promise<string[]> => {
    const out: string[] = []
    for (const secret of secrets) {
      const res = await post(app, basic(id, secret))
      out.push(`${res.statusCode}${res.headers['retry-after'] !== undefined ? ` retry ${String(res.headers['retry-after'])}` : ''} ${String((res.json() as { error?: string }).error ?? '')}`)
    }
    return out
  }
  const wrong = ['wrong-1', 'wrong-2', 'wrong-3', 'wrong-4']
  const knownAnswers = await run(known.id, [...wrong.slice(0, 3), known.secret])
  t.same(knownAnswers, ['401 invalid_client', '401 invalid_client', '401 invalid_client', '429 retry 2 temporarily_unavailable'],
    'after 3 failures even the right secret is refused for 2 s')
  const unknownAnswers = await run(unknownId, [...wrong.slice(0, 3), 'anything'])
  t.same(unknownAnswers.map(a => a.replace('invalid_client', 'X')), knownAnswers.map(a => a.replace('invalid_client', 'X')), 'an unknown client id gets exactly the same answers')
  t.equal((await post(app, basic(clients.globex.id, clients.globex.secret))).statusCode, 200, 'other clients are not locked out')

  now += 2100
  t.same(await run(known.id, ['wrong-5']), ['401 invalid_client'], 'once the lockout ends the secret is checked again')
  t.same(await run(known.id, [known.secret]), ['429 retry 4 temporarily_unavailable'], 'the next lockout is twice as long')
  now += 4100
  t.same(await run(known.id, [known.secret]), ['200 '], 'the right secret works after the lockout')
  t.same(await run(known.id, ['wrong-6', 'wrong-7']), ['401 invalid_client', '401 invalid_client'], 'a success clears the count')

  const lines = logs.join('').split('\n').filter(l => l.includes('"client.locked_out"')).map(l => JSON.parse(l) as Record<string, unknown>)
  t.equal(lines.filter(l => l.client_id === known.id).length, 2, 'each lockout of the known id is one audit line')
  t.equal(lines.filter(l => l.client_id === unknownId).length, 1)
  t.match(lines[0], { audit: true, event: 'client.locked_out', level: 40, reason: 'failed_authentication', retry_after_s: 2 })
})
