// Owns the rotation state machine next → current → retired → gone, and its safety rules.
import type { KeyRing, RingKey } from './keyring.js'
import { checkRing } from './keyring.js'

export interface RotationPolicy {
  /** A next key must have been published this long before it may sign: JWKS max-age + clock tolerance. */
  minPublishMs: number
  /** A retired key stays this long after its last use: max token lifetime + clock tolerance. */
  retentionMs: number
}

export interface RotationResult {
  ring: KeyRing
  /** kids deleted from the ring. */
  removed: string[]
  /** Why the rotation broke a safety rule; non-empty only under `force`. */
  overridden: string[]
}

export interface RotationRefusal {
  refused: string
  /** From then on the same rotation is allowed (ms since the epoch). */
  allowedAt: number
}

/** The retention rule alone: retired keys whose every token has expired leave the ring. */
export function prune (ring: KeyRing, now: number, retentionMs: number): { ring: KeyRing, removed: string[] } {
  const gone = (k: RingKey): boolean => k.state === 'retired' && (k.retiredAt as number) + retentionMs <= now
  return { ring: { keys: ring.keys.filter(k => !gone(k)) }, removed: ring.keys.filter(gone).map(k => k.kid) }
}

/**
 * Promotes next to current, retires the old current, adds `fresh` as next and prunes expired retired keys.
 * A ring without a next key only gains `fresh` as next: nothing may sign before it was published.
 * Refuses when the next key is younger than `minPublishMs`, unless `force` (then `overridden` says why).
 */
export function rotate (ring: KeyRing, fresh: RingKey, now: number, policy: RotationPolicy, force = false):
  RotationResult | RotationRefusal {
  const { ring: kept, removed } = prune(ring, now, policy.retentionMs)
  const next = kept.keys.find(k => k.state === 'next')
  if (next === undefined) {
    return { ring: checkRing({ keys: [...kept.keys, { ...fresh, state: 'next' }] }), removed, overridden: [] }
  }
  const overridden: string[] = []
  const publishedMs = now - next.createdAt
  if (publishedMs < policy.minPublishMs) {
    overridden.push(`next key ${next.kid} has been published for ${Math.floor(publishedMs / 1000)} s; remote JWKS ` +
      `caches may not know it for another ${Math.ceil((policy.minPublishMs - publishedMs) / 1000)} s`)
    if (!force) return { refused: overridden[0] as string, allowedAt: next.createdAt + policy.minPublishMs }
  }
  const step = (k: RingKey): RingKey => k.state === 'current'
    ? { ...k, state: 'retired', retiredAt: now }
    : k.state === 'next' ? { ...k, state: 'current', activatedAt: now } : k
  return { ring: checkRing({ keys: [...kept.keys.map(step), { ...fresh, state: 'next' }] }), removed, overridden }
}

/**
 * The key `kid` is compromised: it leaves the ring at once (so every token it signed stops verifying).
 * If it was current, next signs from now on; a fresh next takes the free place.
 */
export function emergency (ring: KeyRing, kid: string, fresh: RingKey, now: number): KeyRing | undefined {
  const victim = ring.keys.find(k => k.kid === kid)
  if (victim === undefined) return undefined
  let keys = ring.keys.filter(k => k.kid !== kid)
  if (victim.state === 'current') {
    const next = keys.find(k => k.state === 'next')
    keys = next === undefined
      ? [...keys, { ...fresh, state: 'current', activatedAt: now }]
      : [...keys.map(k => k === next ? { ...k, state: 'current' as const, activatedAt: now } : k), { ...fresh, state: 'next' }]
  } else if (victim.state === 'next') {
    keys = [...keys, { ...fresh, state: 'next' }]
  }
  return checkRing({ keys })
}
