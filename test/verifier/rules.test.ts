// The shared claim rules (in-process guard, introspection, remote verifier): claims the issuer never issues are bad_claims.
import t from 'tap'
import { checkClaims, type VerificationRules } from '../../src/verifier/rules.js'
import { TokenRefused } from '../../src/verifier/refusal.js'

const rules: VerificationRules = { issuer: 'https://auth.example', audience: 'https://auth.example/features', clockToleranceS: 30, maxLifetimeS: 900 }
const now = 1_800_000_000_000
const good = { iss: rules.issuer, aud: rules.audience, sub: 's', client_id: 'c', org: 'acme', scope: 'features:read features:write', jti: 'j', iat: now / 1000, exp: now / 1000 + 600 }

t.test('a token the issuer could have written passes', async t => {
  t.equal(checkClaims(good, rules, now).org, 'acme')
  t.equal(checkClaims({ ...good, scope: 'tokens:introspect' }, rules, now).scope, 'tokens:introspect')
  t.equal(checkClaims(good, { ...rules, knownOrg: org => org === 'acme' }, now).org, 'acme')
})

t.test('issue 13: an org outside the organization syntax, an unknown or malformed scope, and (in-process) an unknown org are bad_claims', async t => {
  const cases: Array<[string, Record<string, unknown>, VerificationRules]> = [
    ['an org with capitals and a space', { ...good, org: 'Acme Corp' }, rules],
    ['an org with a slash', { ...good, org: 'acme/../globex' }, rules],
    ['an empty org', { ...good, org: '' }, rules],
    ['a 64-character org', { ...good, org: 'a'.repeat(64) }, rules],
    ['a scope from a future grant', { ...good, scope: 'features:delete' }, rules],
    ['a known and an unknown scope', { ...good, scope: 'features:read admin' }, rules],
    ['an empty scope', { ...good, scope: '' }, rules],
    ['a scope with a doubled space', { ...good, scope: 'features:read  features:write' }, rules],
    ['a scope with a tab', { ...good, scope: 'features:read\tfeatures:write' }, rules],
    ['an org the registry does not know', good, { ...rules, knownOrg: () => false }]
  ]
  for (const [name, payload, r] of cases) {
    let refused: unknown
    try { checkClaims(payload, r, now) } catch (err) { refused = err }
    t.ok(refused instanceof TokenRefused, `${name}: refused`)
    t.match(refused, { reason: 'bad_claims', error: 'invalid_token', statusCode: 401 }, `${name}: 401 invalid_token, reason bad_claims`)
  }
  const messages = new Set(cases.map(([, payload, r]) => { try { checkClaims(payload, r, now) } catch (err) { return (err as Error).message } return '' }))
  t.equal(messages.size, 1, 'one public description for all: an unknown organization reads like a malformed one')
})
