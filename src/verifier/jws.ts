// Owns the signature step every token of the service passes (access tokens, jwt-bearer assertions): decode, header
// rules, key lookup, one fast-jwt verifier per key, the library's errors as refusal reasons, then aud and iss.
import { createDecoder, createVerifier } from 'fast-jwt'
import type { KeyLookup } from './key-source.js'
import { libraryReason } from './library-codes.js'
import { TokenRefused } from './refusal.js'
import { checkAudienceAndIssuer, checkHeader, type TokenProfile } from './rules.js'

export interface VerifiedJws {
  header: Record<string, unknown>
  payload: Record<string, unknown>
  kid: string
  /** The key that verified it (the token cache keeps it, to notice a key withdrawn or replaced). */
  pem: string
}

type Verify = (token: string) => Record<string, unknown>

const decode = createDecoder({ complete: true }) as (token: string) => { header: Record<string, unknown>, payload: Record<string, unknown> }

/**
 * Header and payload of a JWS, unverified (throws a fast-jwt TokenError when it is not one): only to choose which
 * trusted party's rules and keys to verify it with, never to trust anything in it.
 */
export function decodeUnverified (token: string): { header: Record<string, unknown>, payload: Record<string, unknown> } {
  return decode(token)
}

// A key set holds a handful of keys; more distinct keys than this are only ever seen during an attack or a bug.
const MAX_VERIFIERS = 64

/**
 * `(token) => verified header and payload`, or a TokenRefused carrying the reason and `profile.texts`' public
 * text. The key source's own errors (APP_JWKS_UNAVAILABLE: the token cannot be judged now) pass through.
 *
 * fast-jwt verifies with a key given when the verifier is created (the PEM parsed once, into a KeyObject);
 * with a key callback it would parse the PEM on every token (bench/verification-core.ts measures it). So a
 * verifier is made per key and algorithm, and kept while the key is in use.
 */
export function jwsVerifier (profile: TokenProfile, keys: KeyLookup): (token: string) => Promise<VerifiedJws> {
  const verifiers = new Map<string, Verify>()
  const { texts } = profile

  function refusal (err: unknown): unknown {
    const reason = libraryReason(err)
    if (reason === undefined) return err
    const e = err as { code: string, message: string }
    return new TokenRefused(reason, reason === 'expired' ? texts.expired : texts.invalid, `${e.code}: ${e.message}`)
  }

  function verifierFor (alg: string, pem: string): Verify {
    const id = `${alg}\n${pem}`
    let verify = verifiers.get(id)
    if (verify === undefined) {
      verify = createVerifier({
        key: pem,
        algorithms: [alg as 'RS256'], // pinned per key: the header's alg passed the profile, and the key is for it
        ...(profile.typ !== undefined ? { checkTyp: profile.typ } : {}),
        requiredClaims: [...profile.requiredClaims],
        clockTolerance: profile.clockToleranceS * 1000,
        allowedCritHeaders: []
      }) as Verify
      if (verifiers.size >= MAX_VERIFIERS) verifiers.delete(verifiers.keys().next().value as string)
      verifiers.set(id, verify)
    }
    return verify
  }

  return async function verifyJws (token: string): Promise<VerifiedJws> {
    let header: Record<string, unknown>
    try { ({ header } = decode(token)) } catch (err) { throw refusal(err) }
    const { kid, alg } = checkHeader(header, profile)
    const pem = await keys(kid, alg)
    if (pem === undefined) throw new TokenRefused('unknown_kid', texts.unknownKey, `kid ${kid}`)
    let payload: Record<string, unknown>
    try { payload = verifierFor(alg, pem)(token) } catch (err) { throw refusal(err) }
    checkAudienceAndIssuer(payload, profile)
    return { header, payload, kid, pem }
  }
}
