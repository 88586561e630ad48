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

// Issue 13: a resource server introspecting every request must not be throttled or locked out by anyone else.
const introspect = async (app: FastifyInstance, id: string, secret: string, token: string, remoteAddress?: string) =>
  await app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...form, ...basic(id, secret) }, payload: `token=${encodeURIComponent(token)}`, ...(remoteAddress !== undefined ? { remoteAddress } : {}) })

t.test('authenticated introspection has its own limit, far above the token limits, and does not spend them', async t => {
  const { app, clients } = await build(t, { TOKEN_RATE_PER_CLIENT: '60', TOKEN_RATE_PER_IP: '50', TOKEN_RATE_INTROSPECT_PER_CLIENT: '100' })
  const rs = clients.resourceServer
  const token = (await post(app, basic(clients.acme.id, clients.acme.secret))).json().access_token as string
  const statuses: number[] = []
  for (let i = 0; i < 100; i++) statuses.push((await introspect(app, rs.id, rs.secret, token)).statusCode)
  t.same(statuses.filter(s => s !== 200), [], '100 introspections in a window from one address: above TOKEN_RATE_PER_CLIENT and TOKEN_RATE_PER_IP, all answered')
  const over = await introspect(app, rs.id, rs.secret, token)
  t.equal(over.statusCode, 429, 'the 101st meets TOKEN_RATE_INTROSPECT_PER_CLIENT')
  t.equal(over.json().error, 'temporarily_unavailable')
  t.ok(Number(over.headers['retry-after']) >= 1, 'with Retry-After')
  t.equal((await post(app, basic(rs.id, rs.secret))).statusCode, 200, 'its token budget and this address\'s budget are untouched')
})

t.test('wrong secrets sent from elsewhere lock out that source only: the named client keeps introspecting and getting tokens', async t => {
  const { app, clients } = await build(t, { AUTH_LOCKOUT_AFTER: '5', AUTH_LOCKOUT_BASE_S: '60' })
  const rs = clients.resourceServer
  const token = (await post(app, basic(clients.acme.id, clients.acme.secret))).json().access_token as string
  const attacker: number[] = []
  for (let i = 0; i < 12; i++) attacker.push((await introspect(app, rs.id, `wrong-${i}`, token, '203.0.113.9')).statusCode)
  t.same(attacker, [...Array(5).fill(401), ...Array(7).fill(429)], 'the guessing source is locked out after AUTH_LOCKOUT_AFTER failures')
  t.equal((await introspect(app, rs.id, rs.secret, token, '203.0.113.9')).statusCode, 429, 'there, even the right secret waits')
  const own = await introspect(app, rs.id, rs.secret, token)
  t.equal(own.statusCode, 200, 'the resource server, from its own address, is not locked out')
  t.equal(own.json().active, true)
  for (let i = 0; i < 12; i++) await post(app, basic(clients.acme.id, `wrong-${i}`), undefined, '203.0.113.10')
  t.equal((await post(app, basic(clients.acme.id, clients.acme.secret))).statusCode, 200, 'the same holds at the token endpoint')
})

t.test('the per-client token limit counts authenticated requests only: wrong secrets from elsewhere do not spend it', async t => {
  const { app, clients } = await build(t, { TOKEN_RATE_PER_CLIENT: '5' })
  for (let i = 0; i < 20; i++) await post(app, basic(clients.acme.id, `wrong-${i}`), undefined, `198.51.100.${i + 1}`)
  const own: number[] = []
  for (let i = 0; i < 6; i++) own.push((await post(app, basic(clients.acme.id, clients.acme.secret))).statusCode)
  t.same(own, [200, 200, 200, 200, 200, 429], 'the client gets its own 5, then 429')
})

t.test('guesses from many addresses meet a per-client failure budget that never blocks a source the client has used', async t => {
  const { app, clients } = await build(t, { AUTH_LOCKOUT_AFTER: '3', AUTH_LOCKOUT_CLIENT_AFTER: '10', AUTH_LOCKOUT_BASE_S: '60', AUTH_LOCKOUT_MAX_S: '600' })
  const acme = clients.acme
  t.equal((await post(app, basic(acme.id, acme.secret), undefined, '192.0.2.1')).statusCode, 200, 'the client works from its usual address')
  const guesses = async (id: string): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < 30; i++) out.push((await post(app, basic(id, `guess-${i}`), undefined, `10.9.${i}.1`)).statusCode)
    return out
  }
  const known = await guesses(acme.id)
  t.same(known, [...Array(10).fill(401), ...Array(20).fill(429)], '30 guesses from 30 addresses: 10 are checked, then every new address waits')
  t.same(await guesses('acme-ffffffffffffffff'), known, 'an unknown client id answers alike')
  t.equal((await post(app, basic(acme.id, acme.secret), undefined, '10.9.200.1')).statusCode, 429, 'the trade-off: a new address waits too, even with the right secret')
  t.equal((await post(app, basic(acme.id, acme.secret), undefined, '192.0.2.1')).statusCode, 200, 'an address the client authenticated from before is never blocked by the budget')
})
