// Builds tokens by hand (real crypto) so tests can tamper with every part of them.
import { createHmac, createSign, type KeyObject } from 'node:crypto'

export const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

export function rs256 (header: object, payload: object, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`
}

export function hs256 (header: object, payload: object, secret: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

/** Signs header and payload given as raw JSON text (duplicate keys, odd spacing) exactly as written. */
export function signRaw (headerJson: string, payloadJson: string, sign: { rsa: KeyObject } | { hmac: string | Buffer }): string {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`
  const signature = 'rsa' in sign
    ? createSign('RSA-SHA256').update(input).sign(sign.rsa)
    : createHmac('sha256', sign.hmac).update(input).digest()
  return `${input}.${signature.toString('base64url')}`
}

/** An unsecured JWS (RFC 7515 alg none), optionally carrying a signature segment anyway. */
export function unsigned (header: object, payload: object, signature = ''): string {
  return `${b64(header)}.${b64(payload)}.${signature}`
}
