// Owns the trusted identity providers of the jwt-bearer grant (RFC 7523): their file format and lookup.
import { readFile } from 'node:fs/promises'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { KNOWN_SCOPES, ORG_PATTERN } from '../tokens/claims.js'
import { TrustedIssuersInvalid } from '../shared/errors.js'

const OrgMapping = Type.Union([
  Type.Object({ fixed: Type.String({ pattern: ORG_PATTERN }) }, { additionalProperties: false }),
  // A claim names the org, but only orgs listed here: an IdP cannot mint its way into any tenant.
  Type.Object({ claim: Type.String({ minLength: 1 }), allowed: Type.Array(Type.String({ pattern: ORG_PATTERN }), { minItems: 1 }) }, { additionalProperties: false })
])

const TrustedIssuerSchema = Type.Object({
  issuer: Type.String({ pattern: '^https?://' }),
  jwks_uri: Type.String({ pattern: '^https?://' }),
  /** `aud` the assertion must carry; by default our token endpoint or our issuer (RFC 7523 §3). */
  audience: Type.Optional(Type.String({ minLength: 1 })),
  subject_claim: Type.String({ default: 'sub', minLength: 1 }),
  org: OrgMapping,
  scopes: Type.Array(Type.Enum([...KNOWN_SCOPES]), { minItems: 1 }),
  algorithms: Type.Array(Type.Enum(['RS256', 'ES256']), { default: ['RS256', 'ES256'], minItems: 1 }),
  /** An assertion must expire within this many seconds of now: short-lived by design (RFC 7523 §3 item 4). */
  max_assertion_lifetime_s: Type.Integer({ minimum: 10, maximum: 3600, default: 300 })
}, { additionalProperties: false })

const FileSchema = Type.Object({ issuers: Type.Array(TrustedIssuerSchema) }, { additionalProperties: false })

export type TrustedIssuer = Static<typeof TrustedIssuerSchema>

/** Whether this IdP may grant tokens for `org`: its fixed org, or one of its allowed ones. */
export function mayGrantOrg (idp: TrustedIssuer, org: string): boolean {
  return 'fixed' in idp.org ? idp.org.fixed === org : idp.org.allowed.includes(org)
}

/** Reads and validates the file once at start-up; "" means federation is off. */
export async function loadTrustedIssuers (path: string): Promise<TrustedIssuer[]> {
  if (path === '') return []
  let json: unknown
  try { json = JSON.parse(await readFile(path, 'utf8')) } catch (err) { throw new TrustedIssuersInvalid(path, (err as Error).message) }
  const value = Value.Default(FileSchema, json)
  if (!Value.Check(FileSchema, value)) {
    const e = [...Value.Errors(FileSchema, value)][0]
    throw new TrustedIssuersInvalid(path, `${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}`)
  }
  const seen = new Set<string>()
  for (const i of value.issuers) {
    if (seen.has(i.issuer)) throw new TrustedIssuersInvalid(path, `issuer ${i.issuer} is listed twice`)
    seen.add(i.issuer)
  }
  return value.issuers
}
