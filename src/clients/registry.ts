// Owns organizations and OAuth clients: the clients.json format, secret hashing and constant-time checks.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { ClientInvalid } from '../shared/errors.js'
import { KNOWN_SCOPES, ORG_PATTERN, type Scope } from '../tokens/claims.js'

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const GRANT_TYPES = ['client_credentials', JWT_BEARER, 'refresh_token'] as const

const ClientSchema = Type.Object({
  client_id: Type.String({ minLength: 1, maxLength: 128 }),
  org: Type.String({ pattern: ORG_PATTERN }),
  scopes: Type.Array(Type.Enum([...KNOWN_SCOPES])),
  grant_types: Type.Array(Type.Enum([...GRANT_TYPES])),
  /** base64url SHA-256 of the secret: secrets are 256 random bits, so a slow hash adds nothing. */
  secret_hash: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  /** The secret before the last rotation, hashed too: it keeps working until previous_secret_expires_at. */
  previous_secret_hash: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' })),
  previous_secret_expires_at: Type.Optional(Type.String()),
  created_at: Type.String(),
  disabled_at: Type.Optional(Type.String())
})
const OrgSchema = Type.Object({ id: Type.String({ pattern: ORG_PATTERN }), created_at: Type.String() })
const FileSchema = Type.Object({ version: Type.Literal(1), orgs: Type.Array(OrgSchema), clients: Type.Array(ClientSchema) })

export type Client = Static<typeof ClientSchema>
export type ClientsFile = Static<typeof FileSchema>

export const emptyClients = (): ClientsFile => ({ version: 1, orgs: [], clients: [] })

export function hashSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}

export function parseClients (text: string): ClientsFile {
  let json: unknown
  try { json = JSON.parse(text) } catch (err) { throw new Error(`not JSON: ${(err as Error).message}`) }
  if (!Value.Check(FileSchema, json)) {
    const first = [...Value.Errors(FileSchema, json)][0]
    throw new Error(`bad format at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`)
  }
  const ids = new Set<string>()
  for (const c of json.clients) {
    if (ids.has(c.client_id)) throw new Error(`duplicate client_id ${c.client_id}`)
    ids.add(c.client_id)
  }
  return json
}

export function serializeClients (file: ClientsFile): string {
  return JSON.stringify(file, null, 2) + '\n'
}

export interface NewClient { org: string, scopes: readonly string[], grantTypes?: readonly string[], now: Date }

/**
 * Adds a client (and its organization on first use); the secret is returned once and stored only as a hash.
 * Input the registry cannot hold throws APP_CLIENTS_INVALID.
 */
export function addClient (file: ClientsFile, input: NewClient): { file: ClientsFile, client: Client, secret: string } {
  if (!new RegExp(ORG_PATTERN).test(input.org)) throw new ClientInvalid(`org ${JSON.stringify(input.org)} must match ${ORG_PATTERN}`)
  const unknown = input.scopes.filter(s => !(KNOWN_SCOPES as readonly string[]).includes(s))
  if (unknown.length > 0) throw new ClientInvalid(`unknown scope ${JSON.stringify(unknown[0])}; known: ${KNOWN_SCOPES.join(' ')}`)
  if (input.scopes.length === 0) throw new ClientInvalid('a client needs at least one scope')
  const grants = input.grantTypes ?? ['client_credentials']
  const badGrant = grants.find(g => !(GRANT_TYPES as readonly string[]).includes(g))
  if (badGrant !== undefined) throw new ClientInvalid(`unknown grant type ${JSON.stringify(badGrant)}; known: ${GRANT_TYPES.join(' ')}`)
  if (grants.length === 0) throw new ClientInvalid('a client needs at least one grant type')
  const secret = randomBytes(32).toString('base64url')
  const client: Client = {
    client_id: `${input.org}-${randomBytes(8).toString('hex')}`,
    org: input.org,
    scopes: [...new Set(input.scopes)] as Scope[],
    grant_types: [...new Set(grants)] as Client['grant_types'],
    secret_hash: hashSecret(secret),
    created_at: input.now.toISOString()
  }
  const orgs = file.orgs.some(o => o.id === input.org) ? file.orgs : [...file.orgs, { id: input.org, created_at: client.created_at }]
  return { file: { ...file, orgs, clients: [...file.clients, client] }, client, secret }
}

function withClient (file: ClientsFile, clientId: string, change: (c: Client) => Client | undefined): ClientsFile | undefined {
  if (!file.clients.some(c => c.client_id === clientId)) return undefined
  return { ...file, clients: file.clients.flatMap(c => { if (c.client_id !== clientId) return [c]; const next = change(c); return next === undefined ? [] : [next] }) }
}

export function disableClient (file: ClientsFile, clientId: string, now: Date): ClientsFile | undefined {
  return withClient(file, clientId, c => c.disabled_at === undefined ? { ...c, disabled_at: now.toISOString() } : c)
}

export function enableClient (file: ClientsFile, clientId: string): ClientsFile | undefined {
  return withClient(file, clientId, ({ disabled_at: _, ...c }) => c)
}

/** Removes the client for good (its organization stays); tokens it already holds live until they expire. */
export function deleteClient (file: ClientsFile, clientId: string): ClientsFile | undefined {
  return withClient(file, clientId, () => undefined)
}

/**
 * Gives the client a new secret; the current one keeps working for `graceMs` (0: stops at once), so the client's
 * deployments can switch over without downtime. Only one previous secret is kept: rotating again during a grace
 * period ends the older secret at once. Returns undefined for an unknown client.
 */
export function rotateSecret (file: ClientsFile, clientId: string, now: Date, graceMs: number): { file: ClientsFile, secret: string, previousExpiresAt: string | undefined } | undefined {
  const secret = randomBytes(32).toString('base64url')
  const expires = graceMs > 0 ? new Date(now.getTime() + graceMs).toISOString() : undefined
  const next = withClient(file, clientId, ({ previous_secret_hash: _h, previous_secret_expires_at: _e, ...c }) => ({
    ...c,
    secret_hash: hashSecret(secret),
    ...(expires === undefined ? {} : { previous_secret_hash: c.secret_hash, previous_secret_expires_at: expires })
  }))
  return next === undefined ? undefined : { file: next, secret, previousExpiresAt: expires }
}

// Compared against when the client id is unknown, so both failures cost the same work.
const DUMMY_HASH = Buffer.from(hashSecret(randomBytes(32).toString('base64url')))

/** An index of a clients file for the hot path. */
export class ClientDirectory {
  readonly #byId: ReadonlyMap<string, Client>
  readonly #orgs: ReadonlySet<string>

  constructor (file: ClientsFile) {
    this.#byId = new Map(file.clients.map(c => [c.client_id, c]))
    this.#orgs = new Set(file.orgs.map(o => o.id))
  }

  /**
   * The client if `secret` is its secret (or its previous one, before `nowMs` reaches the end of the grace period)
   * and it is enabled; null otherwise. Both hashes are always compared, so the time taken tells nothing.
   */
  authenticate (clientId: string, secret: string, nowMs: number): Client | null {
    const client = this.#byId.get(clientId)
    const presented = Buffer.from(hashSecret(secret))
    const current = timingSafeEqual(presented, client === undefined ? DUMMY_HASH : Buffer.from(client.secret_hash))
    const previousHash = client?.previous_secret_hash
    const previous = timingSafeEqual(presented, previousHash === undefined ? DUMMY_HASH : Buffer.from(previousHash)) &&
      previousHash !== undefined && nowMs < Date.parse(client?.previous_secret_expires_at ?? '')
    return (current || previous) && client !== undefined && client.disabled_at === undefined ? client : null
  }

  get (clientId: string): Client | undefined { return this.#byId.get(clientId) }

  /** Whether `org` is an organization of the registry: a token naming any other was not issued here. */
  hasOrg (org: string): boolean { return this.#orgs.has(org) }
}
