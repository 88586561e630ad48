// Issue 13: two simultaneous refreshes with one refresh token, over real HTTP. Exactly one succeeds (issue 16) and
// the loser's reuse revokes the family; no access token either of them was given may then work, whichever order
// the two requests were served in.
import t from 'tap'
import { basic, form } from '../helpers/app.js'
import { listenIssuer } from '../helpers/net.js'
import { assertion, JWT_BEARER, startIdp, trustedFile } from '../helpers/idp.js'

const TRIALS = 20

t.test('concurrent reuse of a refresh token: every access token of the revoked family is refused and introspects inactive', async t => {
  const idp = await startIdp(t)
  // Limits off: 20 trials of one client would meet the per-client limit, which has its own tests.
  const issuer = await listenIssuer(t, { TRUSTED_ISSUERS_FILE: trustedFile(idp), TOKEN_RATE_PER_CLIENT: '100000', TOKEN_RATE_PER_IP: '100000', LOG_LEVEL: 'warn' })
  const fed = issuer.clients.acmeFederated
  const post = async (path: string, body: string): Promise<{ status: number, body: Record<string, unknown> }> => {
    const res = await fetch(`${issuer.base}/oauth/${path}`, { method: 'POST', headers: { ...form, ...basic(fed.id, fed.secret) }, body })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }
  const items = async (token: string): Promise<number> => (await fetch(`${issuer.base}/features/collections/sites/items`, { headers: { authorization: `Bearer ${token}` } })).status

  const survivors: string[] = []
  for (let trial = 0; trial < TRIALS; trial++) {
    const grant = await post('token', `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${await assertion(idp, { audience: `${issuer.base}/oauth/token` })}`)
    if (grant.status !== 200) throw new Error(`no grant: ${JSON.stringify(grant.body)}`)
    const refresh = `grant_type=refresh_token&refresh_token=${encodeURIComponent(grant.body.refresh_token as string)}`
    const answers = await Promise.all([post('token', refresh), post('token', refresh)])
    const issued = answers.filter(a => a.status === 200)
    t.equal(issued.length, 1, `trial ${trial}: exactly one succeeds`)
    t.ok(answers.some(a => a.status === 400 && a.body.error === 'invalid_grant'), `trial ${trial}: the second use is refused`)
    for (const a of [grant, ...issued]) {
      const token = a.body.access_token as string
      const status = await items(token)
      const active = (await post('introspect', `token=${encodeURIComponent(token)}`)).body.active
      if (status !== 401 || active !== false) survivors.push(`trial ${trial}: ${a === grant ? 'granted' : 'refreshed'} token answered ${status}, active ${String(active)}`)
    }
    for (const a of issued) {
      const again = await post('token', `grant_type=refresh_token&refresh_token=${encodeURIComponent(a.body.refresh_token as string)}`)
      t.equal(again.body.error, 'invalid_grant', `trial ${trial}: the refresh token handed out in the race is dead too`)
    }
  }
  t.same(survivors, [], 'no access token of a revoked family works on /features or introspects active')
})
