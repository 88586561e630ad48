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
