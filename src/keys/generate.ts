// Owns key generation: fresh RSA key pairs named by their RFC 7638 thumbprint.
import { generateKeyPair } from 'node:crypto'
import { promisify } from 'node:util'
import { thumbprint, type RingKey } from './keyring.js'

const generate = promisify(generateKeyPair)

/** Generates a `next` key off the event loop (RSA generation takes 50-500 ms). */
export async function newRingKey (modulusLength: number, now: number): Promise<RingKey> {
  const { privateKey, publicKey } = await generate('rsa', { modulusLength, publicExponent: 0x10001 })
  return { kid: thumbprint(publicKey), state: 'next', createdAt: now, privateKey, publicKey }
}
