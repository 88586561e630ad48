// Owns access-token issuance: RFC 9068 at+jwt claims, RS256-signed off the event loop.
import { randomBytes, sign } from 'node:crypto'
import { promisify } from 'node:util'
import type { RingKey } from '../keys/keyring.js'
import type { AccessTokenClaims } from './claims.js'

const signAsync = promisify(sign)

export interface IssueInput {
  issuer: string
  audience: string
  subject: string
  clientId: string
  org: string
  scope: string
  ttlS: number
  now: number
}

const headers = new WeakMap<RingKey, string>()

/** The protected header is the same for every token of a key: encode it once. */
function encodedHeader (key: RingKey): string {
  let header = headers.get(key)
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: key.kid })).toString('base64url')
    headers.set(key, header)
  }
  return header
}

export function accessTokenClaims (input: IssueInput): AccessTokenClaims {
  const iat = Math.floor(input.now / 1000)
  return {
    iss: input.issuer,
    sub: input.subject,
    aud: input.audience,
    client_id: input.clientId,
    org: input.org,
    scope: input.scope,
    iat,
    exp: iat + input.ttlS,
    jti: randomBytes(16).toString('base64url')
  }
}

/**
 * Signs the claims as a compact JWS with the ring's current key.
 * node:crypto's callback `sign` runs RSA in the libuv pool, so issuance uses every core and the
 * event loop keeps serving while a ~1 ms signature is computed (fast-jwt signs synchronously).
 */
export async function signAccessToken (key: RingKey, claims: AccessTokenClaims): Promise<string> {
  const input = `${encodedHeader(key)}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  const signature = await signAsync('sha256', Buffer.from(input), key.privateKey)
  return `${input}.${signature.toString('base64url')}`
}
