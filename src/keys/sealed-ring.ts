// Owns the key ring as stored in Redis: keyring.json's records with each private key sealed under the KEK.
import Type from 'typebox'
import Value from 'typebox/value'
import { KEY_LIFE, parseRing, serializeRing, type KeyRing } from './keyring.js'
import type { Kek } from './kek.js'

const SealedSchema = Type.Object({ alg: Type.Literal('A256GCM'), kek: Type.String(), iv: Type.String(), ct: Type.String(), tag: Type.String() })
const RecordSchema = Type.Object({ ...KEY_LIFE, sealed: SealedSchema })
const DocumentSchema = Type.Object({ version: Type.Literal(1), keys: Type.Array(RecordSchema) })

/**
 * The ring with every private JWK replaced by its sealed form: no key material, public or private, is stored in
 * clear (the public key is derived again from the opened private key, and its thumbprint must be the kid).
 */
export function sealRing (ring: KeyRing, kek: Kek): string {
  const file = JSON.parse(serializeRing(ring)) as { keys: Array<{ kid: string, privateJwk: unknown }> }
  const keys = file.keys.map(({ privateJwk, ...meta }) => ({ ...meta, sealed: kek.seal(meta.kid, Buffer.from(JSON.stringify(privateJwk))) }))
  return JSON.stringify({ version: 1, keys })
}

/**
 * Opens a sealed ring: a wrong KEK throws APP_KEK_MISMATCH; a document of the wrong shape throws an Error saying
 * where (the caller names the store); then every keyring.json check applies (thumbprints, one current key).
 */
export function openRing (text: string, kek: Kek): KeyRing {
  let json: unknown
  try { json = JSON.parse(text) } catch (err) { throw new Error(`not JSON: ${(err as Error).message}`) }
  if (!Value.Check(DocumentSchema, json)) {
    const first = [...Value.Errors(DocumentSchema, json)][0]
    throw new Error(`bad format at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`)
  }
  const keys = json.keys.map(({ sealed, ...meta }) => ({ ...meta, privateJwk: JSON.parse(kek.open(meta.kid, sealed).toString('utf8')) as unknown }))
  return parseRing(JSON.stringify({ version: 1, keys }))
}
