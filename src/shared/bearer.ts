// Owns reading `Authorization: Bearer <token>` (RFC 6750 §2.1), the one parser every guard of the service uses.

// The scheme is case-insensitive (RFC 9110 §11.1), one or more spaces follow, then a b64token. HTTP has already
// stripped the field value's surrounding whitespace (RFC 9110 §5.5); anything else around the token is refused.
const B64 = String.raw`[A-Za-z0-9\-._~+/]+=*`
const BEARER = new RegExp(`^Bearer +(${B64})$`, 'i')
const B64TOKEN = new RegExp(`^${B64}$`)

/** The token of a Bearer Authorization header, or undefined when the header is absent or not exactly that. */
export function bearerToken (authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : BEARER.exec(authorization)?.[1]
}

/**
 * Whether the header uses the Bearer scheme at all, well-formed or not: a carrier that must not be ignored
 * (a malformed Bearer header is refused, another scheme such as a proxy's Basic is not a token).
 */
export function usesBearerScheme (authorization: string | undefined): boolean {
  return authorization !== undefined && /^Bearer(?: |$)/i.test(authorization)
}

/** Whether a token given another way (RFC 6750 §2.2 form body, §2.3 query) has the b64token syntax a Bearer header needs. */
export function isB64Token (value: string): boolean {
  return B64TOKEN.test(value)
}
