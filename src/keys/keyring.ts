// Owns the KeyRing value: its file format, its invariants and the selectors the service reads from it.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'

export const KEY_STATES = ['next', 'current', 'retired'] as const
export type KeyState = typeof KEY_STATES[number]

/** A key's identity and life, the same wherever its material is kept (keyring.json in clear, Redis sealed). */
export const KEY_LIFE = {
  kid: Type.String({ minLength: 1 }),
  state: Type.Enum([...KEY_STATES]),
  createdAt: Type.Integer({ minimum: 0 }),
  activatedAt: Type.Optional(Type.Integer({ minimum: 0 })),
  retiredAt: Type.Optional(Type.Integer({ minimum: 0 }))
}

const RecordSchema = Type.Object({
  ...KEY_LIFE,
  privateJwk: Type.Object({ kty: Type.Literal('RSA'), n: Type.String(), e: Type.String(), d: Type.String() })
})
const FileSchema = Type.Object({ version: Type.Literal(1), keys: Type.Array(RecordSchema) })
type KeyRecord = Static<typeof RecordSchema>

/** One RSA key of the ring. `privateKey` never leaves src/keys and src/tokens. */
export interface RingKey {
  readonly kid: string
  readonly state: KeyState
  /** When the key was generated, i.e. first published in the JWKS (ms). */
  readonly createdAt: number
  /** When it started signing (ms). */
  readonly activatedAt?: number
  /** When it stopped signing (ms): its last possible use. */
  readonly retiredAt?: number
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
}

/** An immutable set of keys: exactly one `current`, at most one `next`. */
export interface KeyRing { readonly keys: readonly RingKey[] }

/** The public members a verifier needs (RFC 7517 §4): an allow-list, so no private member can slip through. */
export interface PublicJwk { kty: 'RSA', n: string, e: string, kid: string, use: 'sig', alg: 'RS256' }

/** RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace. */
export function thumbprint (publicKey: KeyObject): string {
  const { e, n } = publicKey.export({ format: 'jwk' })
  return createHash('sha256').update(JSON.stringify({ e, kty: 'RSA', n })).digest('base64url')
}

export function publicJwk (key: RingKey): PublicJwk {
  const { n, e } = key.publicKey.export({ format: 'jwk' })
  return { kty: 'RSA', n: n as string, e: e as string, kid: key.kid, use: 'sig', alg: 'RS256' }
}

/** Throws a string describing the first broken invariant, or returns the ring. */
export function checkRing (ring: KeyRing): KeyRing {
  const current = ring.keys.filter(k => k.state === 'current')
  if (current.length !== 1) throw new Error(`expected exactly one current key, found ${current.length}`)
  if (ring.keys.filter(k => k.state === 'next').length > 1) throw new Error('more than one next key')
  const kids = new Set<string>()
  for (const k of ring.keys) {
    if (kids.has(k.kid)) throw new Error(`duplicate kid ${k.kid}`)
    kids.add(k.kid)
    if (k.state === 'retired' && k.retiredAt === undefined) throw new Error(`retired key ${k.kid} has no retiredAt`)
  }
  return ring
}

/** Parses keyring.json; any defect throws, so a damaged file is never half-used. */
export function parseRing (text: string): KeyRing {
  let json: unknown
  try { json = JSON.parse(text) } catch (err) { throw new Error(`not JSON: ${(err as Error).message}`) }
  if (!Value.Check(FileSchema, json)) {
    const first = [...Value.Errors(FileSchema, json)][0]
    throw new Error(`bad format at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`)
  }
  const keys = json.keys.map((r: KeyRecord): RingKey => {
    let privateKey: KeyObject
    try { privateKey = createPrivateKey({ key: r.privateJwk, format: 'jwk' }) } catch { throw new Error(`key ${r.kid}: private JWK does not load`) }
    const publicKey = createPublicKey(privateKey)
    if (thumbprint(publicKey) !== r.kid) throw new Error(`key ${r.kid}: kid is not its RFC 7638 thumbprint`)
    const { privateJwk: _, ...meta } = r
    return { ...meta, privateKey, publicKey }
  })
  return checkRing({ keys })
}

export function serializeRing (ring: KeyRing): string {
  const keys = checkRing(ring).keys.map(({ privateKey, publicKey: _, ...meta }) => {
    const { kty, n, e, d, p, q, dp, dq, qi } = privateKey.export({ format: 'jwk' })
    return { ...meta, privateJwk: { kty, n, e, d, p, q, dp, dq, qi } }
  })
  return JSON.stringify({ version: 1, keys }, null, 2) + '\n'
}

/** The key that signs new tokens. */
export function signingKey (ring: KeyRing): RingKey {
  return ring.keys.find(k => k.state === 'current') as RingKey
}

/**
 * Keys a verifier may still need: next, current, and retired keys whose tokens can still be live
 * (retiredAt + retentionMs in the future).
 */
export function publishedKeys (ring: KeyRing, now: number, retentionMs: number): RingKey[] {
  return ring.keys.filter(k => k.state !== 'retired' || (k.retiredAt as number) + retentionMs > now)
}
