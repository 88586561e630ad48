// Owns the key-encryption key (KEK): private keys stored outside this process (Redis) are sealed with it, AES-256-GCM.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { KekInvalid, KekMismatch } from '../shared/errors.js'

/** A sealed secret: AES-256-GCM under the KEK, with the key's kid as additional authenticated data. */
export interface Sealed {
  alg: 'A256GCM'
  /** Which KEK sealed it (see Kek.id), so a wrong KEK is named as such rather than as a corrupt store. */
  kek: string
  iv: string
  ct: string
  tag: string
}

/** Where the operator gives the KEK: exactly one of the two settings (src/config.ts checks that). */
export interface KekSource { KEY_ENCRYPTION_KEY: string, KEY_ENCRYPTION_KEY_FILE: string }

export const KEK_HINT = 'generate one with: openssl rand -base64 32'

/**
 * The KEK and what it does; the key bytes never leave this object (no getter, nothing to log). `id` is an HMAC
 * of a fixed label under the key: it tells KEKs apart without revealing anything about them. Previous KEKs (during a
 * KEK rotation) still open what they sealed; everything is sealed with the current one.
 */
export class Kek {
  readonly id: string
  readonly #key: Buffer
  readonly #previous: readonly Kek[]

  constructor (key: Buffer, previous: readonly Buffer[] = []) {
    if (key.length !== 32) throw new KekInvalid(`it must be 32 bytes, found ${key.length}; ${KEK_HINT}`)
    this.#key = Buffer.from(key)
    this.id = createHmac('sha256', this.#key).update('geotoken key-encryption key id').digest('base64url').slice(0, 16)
    this.#previous = previous.map(k => new Kek(k))
  }

  /** The ids of every configured KEK, the current one first. */
  get ids (): string[] { return [this.id, ...this.#previous.map(k => k.id)] }

  /**
   * Seals `plaintext` for the key `kid` with the current KEK. The kid is authenticated data: a sealed private key
   * copied onto another key's record does not open.
   */
  seal (kid: string, plaintext: Buffer): Sealed {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(kid, 'utf8'))
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return { alg: 'A256GCM', kek: this.id, iv: iv.toString('base64url'), ct: ct.toString('base64url'), tag: cipher.getAuthTag().toString('base64url') }
  }

  /** Opens what seal() made for `kid`, with whichever configured KEK sealed it; otherwise APP_KEK_MISMATCH. */
  open (kid: string, sealed: Sealed): Buffer {
    const sealer = sealed.kek === this.id ? undefined : this.#previous.find(k => k.id === sealed.kek)
    if (sealer !== undefined) return sealer.open(kid, sealed)
    if (sealed.kek !== this.id) {
      throw new KekMismatch(`key ${kid} was sealed with the KEK whose id is ${sealed.kek}, but ${this.ids.length === 1 ? `the configured KEK's id is ${this.id}` : `the configured KEKs' ids are ${this.ids.join(', ')}`}: ` +
        'set KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE to the KEK the key ring was stored with')
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(sealed.iv, 'base64url'))
      decipher.setAAD(Buffer.from(kid, 'utf8'))
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64url')), decipher.final()])
    } catch {
      throw new KekMismatch(`key ${kid} does not decrypt with the configured KEK (id ${this.id}): it was altered, or stored under another kid`)
    }
  }
}

const BASE64_32 = /^(?:[A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43})$/

/**
 * One KEK, or during a KEK rotation several separated by commas or new lines, the current one first (it seals;
 * the others only open): each 32 bytes in base64 or base64url. Otherwise APP_KEK_INVALID naming `setting`, never
 * the value.
 */
export function decodeKek (text: string, setting: string): Kek {
  const entries = text.split(/[,\n]/).map(e => e.trim()).filter(e => e !== '')
  if (entries.length === 0) throw new KekInvalid(`${setting} is empty; ${KEK_HINT}`)
  const keys = entries.map((entry, i) => {
    if (!BASE64_32.test(entry)) {
      const which = entries.length > 1 ? ` (entry ${i + 1} of ${entries.length})` : ''
      throw new KekInvalid(`${setting}${which} must hold 32 random bytes in base64 (44 characters ending in =, or 43 in base64url); ${KEK_HINT}`)
    }
    return Buffer.from(entry, 'base64')
  })
  return new Kek(keys[0] as Buffer, keys.slice(1))
}

/** Reads the KEK from the variable or the file the operator named. */
export async function loadKek (source: KekSource): Promise<Kek> {
  if (source.KEY_ENCRYPTION_KEY !== '') return decodeKek(source.KEY_ENCRYPTION_KEY, 'KEY_ENCRYPTION_KEY')
  const path = source.KEY_ENCRYPTION_KEY_FILE
  if (path === '') throw new KekInvalid(`STATE_STORE=redis needs KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE; ${KEK_HINT}`)
  let text: string
  try { text = await readFile(path, 'utf8') } catch (err) {
    throw new KekInvalid(`KEY_ENCRYPTION_KEY_FILE=${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  return decodeKek(text, `KEY_ENCRYPTION_KEY_FILE=${path}`)
}
