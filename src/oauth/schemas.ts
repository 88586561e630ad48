// Owns the authorization server's HTTP shapes (TypeBox): request bodies, answers, errors and the well-known
// documents. Types come from these schemas (Static), never from a second hand-written interface.
import Type, { type Static } from 'typebox'

// Request bodies list no additionalProperties: RFC 6749 §3.2 and RFC 7009/7662 require unknown parameters to be
// ignored, not refused. Every 2xx answer has a schema: serialization drops whatever it does not declare.

/** RFC 6749 §5.2 error answer; also the 429 of the limits (src/oauth/limits.ts). */
export const OAuthErrorSchema = Type.Object({
  error: Type.String(),
  error_description: Type.Optional(Type.String())
}, { description: 'RFC 6749 §5.2 error' })
export type OAuthErrorBody = Static<typeof OAuthErrorSchema>

/** RFC 6749 §3.3: at most 1 KiB of space-separated scope names (each grant checks them). */
const Scope = Type.String({ maxLength: 1024 })
const ClientId = Type.String({ minLength: 1, maxLength: 256 })
const ClientSecret = Type.String({ minLength: 1, maxLength: 512 })
const Assertion = Type.String({ minLength: 1, maxLength: 16384 })
const RefreshToken = Type.String({ minLength: 1, maxLength: 512 })

/** RFC 6749 §4.4.2. */
export const ClientCredentialsParamsSchema = Type.Object({ scope: Type.Optional(Scope) })
export type ClientCredentialsParams = Static<typeof ClientCredentialsParamsSchema>

/**
 * RFC 7523 §2.1. `assertion` is optional here: like every grant's required parameter, its absence is the grant's
 * invalid_request, answered after client authentication.
 */
export const JwtBearerParamsSchema = Type.Object({ assertion: Type.Optional(Assertion), scope: Type.Optional(Scope) })
export type JwtBearerParams = Static<typeof JwtBearerParamsSchema>

/** RFC 6749 §6; `refresh_token` is optional for the reason given at JwtBearerParamsSchema. */
export const RefreshTokenParamsSchema = Type.Object({ refresh_token: Type.Optional(RefreshToken), scope: Type.Optional(Scope) })
export type RefreshTokenParams = Static<typeof RefreshTokenParamsSchema>

/**
 * POST /oauth/token (RFC 6749 §3.2): the envelope (grant_type and client_secret_post credentials) and every grant's
 * parameters, taken from the grants' schemas above. The syntax of each is checked before client authentication and
 * whichever grant is asked for (or enabled), so a malformed parameter is invalid_request on every request.
 */
export const TokenRequestSchema = Type.Object({
  grant_type: Type.String({ minLength: 1, maxLength: 256 }),
  scope: Type.Optional(Scope),
  client_id: Type.Optional(ClientId),
  client_secret: Type.Optional(ClientSecret),
  assertion: JwtBearerParamsSchema.properties.assertion,
  refresh_token: RefreshTokenParamsSchema.properties.refresh_token
})
export type TokenRequest = Static<typeof TokenRequestSchema>

/** RFC 6749 §5.1. */
export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.String(),
  expires_in: Type.Integer(),
  scope: Type.String(),
  refresh_token: Type.Optional(Type.String())
})
export type TokenResponse = Static<typeof TokenResponseSchema>

/** The body of both revocation (RFC 7009 §2.1) and introspection (RFC 7662 §2.1), with optional client_secret_post credentials. */
export const TokenHintRequestSchema = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 16384 }),
  token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
  client_id: Type.Optional(ClientId),
  client_secret: Type.Optional(ClientSecret)
})
export type TokenHintRequest = Static<typeof TokenHintRequestSchema>

/** RFC 7009 §2.2: an empty 200 whether or not anything was revoked. */
export const RevocationResponseSchema = Type.Null()

/** RFC 7662 §2.2: `active` only, for a token the client may not see or that is not active. */
export const IntrospectionSchema = Type.Object({
  active: Type.Boolean(),
  token_type: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  sub: Type.Optional(Type.String()),
  org: Type.Optional(Type.String()),
  iss: Type.Optional(Type.String()),
  aud: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  jti: Type.Optional(Type.String())
})
export type Introspection = Static<typeof IntrospectionSchema>

/** RFC 7517 §4 public RSA members, the only ones the key ring publishes. */
export const JwkSchema = Type.Object({
  kty: Type.String(), n: Type.String(), e: Type.String(), kid: Type.String(), use: Type.String(), alg: Type.String()
})
export const JwksSchema = Type.Object({ keys: Type.Array(JwkSchema) })
export const NotModifiedSchema = Type.Null({ description: 'the JWKS has not changed since the ETag in If-None-Match' })

/** RFC 8414 §2 authorization server metadata (served as the OpenID configuration too). */
export const ServerMetadataSchema = Type.Object({
  issuer: Type.String(),
  token_endpoint: Type.String(),
  jwks_uri: Type.String(),
  revocation_endpoint: Type.String(),
  introspection_endpoint: Type.String(),
  grant_types_supported: Type.Array(Type.String()),
  token_endpoint_auth_methods_supported: Type.Array(Type.String()),
  revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
  introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
  scopes_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String())
})
export type ServerMetadata = Static<typeof ServerMetadataSchema>
