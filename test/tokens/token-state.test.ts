// Unit tests for token state in memory: the self-pruning id set, and the refresh-token rules (src/tokens/refresh-tokens.ts)
// over the memory backend with a frozen clock. What every backend must guarantee is test/tokens/state-contract.ts.
import t from 'tap'
import { MemoryExpiringSet } from '../../src/tokens/expiring-set.js'
import { MemoryRefreshFamilies } from '../../src/tokens/memory-refresh-families.js'
import { RefreshTokens, hashRefreshToken } from '../../src/tokens/refresh-tokens.js'

t.test('an expiring set forgets each id at its expiry and refuses a second add while present', async t => {
  let now = 1_000_000
  const set = new MemoryExpiringSet(() => now)
  t.equal(await set.add('a', now + 5000), true)
  t.equal(await set.add('a', now + 9000), false, 'atomic check-and-set: a replay is seen')
  t.equal(await set.has('a'), true)
  now += 5000
  t.equal(await set.has('a'), false, 'gone at its expiry')
  t.equal(await set.add('a', now + 1000), true, 'and may be added again')
  t.equal(await set.add('past', now - 1), true, 'an already expired id is not stored')
  t.equal(await set.has('past'), false)
  for (let i = 0; i < 1000; i++) await set.add(`x${i}`, now + 10)
  now += 2000
  await set.add('trigger', now + 1)
  t.ok(set.size <= 2, `pruned to ${set.size} entries as it is used`)
})

function memoryState (clock: () => number): { denyList: MemoryExpiringSet, families: MemoryRefreshFamilies } {
  const denyList = new MemoryExpiringSet(clock)
  return { denyList, families: new MemoryRefreshFamilies(denyList, clock) }
}

t.test('refresh tokens: stored as hashes, rotated once, reuse revokes the family and reports its access tokens', async t => {
  let now = 0
  const { denyList, families: store } = memoryState(() => now)
  const tokens = new RefreshTokens(store, { idleS: 100, absoluteS: 1000 })
  const grant = { clientId: 'c1', org: 'acme', subject: 'alice', scope: 'features:read' }
  const { token, familyId } = await tokens.issue(grant, now)
  t.match(token, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
  t.equal(await store.get(token), undefined, 'the token itself is not a key of the store')
  t.equal((await store.get(hashRefreshToken(token)))?.familyId, familyId)
  t.equal(await tokens.recordAccessToken(familyId, 'jti-1', now + 900_000), true)

  t.match(await tokens.rotate(token, 'c2', now), { ok: false, reason: 'wrong_client' })
  const first = await tokens.rotate(token, 'c1', now)
  t.match(first, { ok: true, grant, familyId })
  if (!first.ok) return
  const next = await tokens.issue(grant, now, { id: first.familyId, expiresAtMs: first.familyExpiresAtMs })
  t.equal(next.familyId, familyId, 'rotation stays in the family')

  t.equal(await denyList.has('jti-1'), false, 'the family\'s access token works until the reuse')
  const reuse = await tokens.rotate(token, 'c1', now)
  t.match(reuse, { ok: false, reason: 'reused', revokedAccessTokens: [{ jti: 'jti-1' }] })
  t.equal(await denyList.has('jti-1'), true, 'and is denied by it')
  t.match(await tokens.rotate(next.token, 'c1', now), { ok: false, reason: 'revoked' }, 'the rest of the family is dead')
  t.equal(await tokens.inspect(next.token, 'c1', now), undefined)
  t.match(await tokens.rotate('unknown', 'c1', now), { ok: false, reason: 'unknown' })
})

t.test('refresh tokens: idle and absolute lifetimes, and client-bound revocation', async t => {
  let now = 0
  const { denyList, families } = memoryState(() => now)
  const tokens = new RefreshTokens(families, { idleS: 100, absoluteS: 150 })
  const grant = { clientId: 'c1', org: 'acme', subject: 'alice', scope: 'features:read' }
  const a = await tokens.issue(grant, now)
  now = 100_000
  t.match(await tokens.rotate(a.token, 'c1', now), { ok: false, reason: 'expired' }, 'idle for the whole window')
  const b = await tokens.issue(grant, now)
  now += 90_000
  const r = await tokens.rotate(b.token, 'c1', now)
  if (!r.ok) { t.fail('should rotate'); return }
  const c = await tokens.issue(grant, now, { id: r.familyId, expiresAtMs: r.familyExpiresAtMs })
  t.equal((await tokens.inspect(c.token, 'c1', now))?.expiresAtMs, 250_000, 'the rotated token is capped by the family deadline, not idle')
  now = 250_000
  t.match(await tokens.rotate(c.token, 'c1', now), { ok: false, reason: 'expired' })

  const d = await tokens.issue(grant, now)
  await tokens.recordAccessToken(d.familyId, 'jti-d', now + 600_000)
  t.same(await tokens.revoke(d.token, 'c2'), { revoked: false, accessTokens: [] }, 'another client cannot revoke it')
  t.equal(await denyList.has('jti-d'), false, 'nor deny its access tokens')
  t.equal((await tokens.revoke(d.token, 'c1')).revoked, true)
  t.equal(await denyList.has('jti-d'), true, 'revoking the refresh token denies the family\'s access tokens')
  t.match(await tokens.rotate(d.token, 'c1', now), { ok: false, reason: 'revoked' })
})

t.test('issue 13: a refused check leaves the refresh token unspent; a replay is still seen first; the issuer is kept', async t => {
  const tokens = new RefreshTokens(memoryState(() => 0).families, { idleS: 100, absoluteS: 1000 })
  const grant = { clientId: 'c1', org: 'acme', subject: 'alice', scope: 'features:read features:write', issuer: 'https://idp.example' }
  const { token } = await tokens.issue(grant, 0)
  await t.rejects(tokens.rotate(token, 'c1', 0, () => { throw new Error('scope withdrawn') }), /scope withdrawn/)
  const seen: unknown[] = []
  const spent = await tokens.rotate(token, 'c1', 0, g => { seen.push(g) })
  t.match(spent, { ok: true, grant }, 'the token was still usable, and the grant kept its issuer')
  t.same(seen, [grant], 'the check saw the grant')
  const replay = await tokens.rotate(token, 'c1', 0, () => { throw new Error('must not run') })
  t.match(replay, { ok: false, reason: 'reused' }, 'a replayed token is reuse, whatever the check would say')
})
