// Owns RFC 8414 discovery: from a configured issuer to its metadata, checked against that issuer.
import { fetchJson } from './jwks-client.js'

export interface IssuerMetadata { issuer: string, jwks_uri: string, introspection_endpoint?: string, token_endpoint?: string, [k: string]: unknown }

/** RFC 8414 §3.1: the well-known segment goes between the host and any path of the issuer. */
export function metadataUrl (issuer: string): string {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname
  return `${url.origin}/.well-known/oauth-authorization-server${path}`
}

/**
 * Fetches the metadata and refuses it unless it names exactly the configured issuer (§3.3): a document
 * that claims another issuer could steer us to keys that issuer never published.
 */
export async function discover (issuer: string, timeoutMs: number): Promise<IssuerMetadata> {
  const { body } = await fetchJson(metadataUrl(issuer), timeoutMs)
  const meta = body as Partial<IssuerMetadata> | null
  if (meta?.issuer !== issuer) throw new Error(`metadata names issuer ${JSON.stringify(meta?.issuer)}, expected ${issuer}`)
  for (const name of ['jwks_uri', 'introspection_endpoint', 'token_endpoint'] as const) {
    const value = meta[name]
    if (value === undefined && name !== 'jwks_uri') continue
    if (typeof value !== 'string' || !sameSecurity(issuer, value)) throw new Error(`metadata ${name} ${JSON.stringify(value)} is not a URL as secure as the issuer`)
  }
  return meta as IssuerMetadata
}

// An https issuer may only point at https endpoints; plain http is tolerated only for an http issuer (local development).
function sameSecurity (issuer: string, endpoint: string): boolean {
  try {
    const p = new URL(endpoint).protocol
    return p === 'https:' || (p === 'http:' && new URL(issuer).protocol === 'http:')
  } catch { return false }
}
