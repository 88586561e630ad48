// Owns Koop's generateToken: an ArcGIS username/password (a geotoken client id and secret) exchanged for an
// access token by the client-credentials grant (RFC 6749 §4.4) at the issuer.
import type { RemoteIssuer } from '../verifier/issuer.js'
import { basicAuth } from '../verifier/issuer.js'
import type { TokenVerifier } from '../verifier/core.js'
import { fromVerifier, KoopAuthError, unavailable } from './arcgis-error.js'
import { scrub, type KoopRequest } from './koop-request.js'

/** What ArcGIS clients expect from generateToken: `expires` in epoch milliseconds, `ssl` true when tokens must only travel over HTTPS. */
export interface ArcgisToken { token: string, expires: number, ssl: boolean }

export interface GenerateTokenOptions {
  issuer: RemoteIssuer
  verify: TokenVerifier
  ssl: boolean
  /** Scope asked of the issuer; undefined asks for everything the client may have. */
  scope: string | undefined
}

const badCredentials = (): KoopAuthError => new KoopAuthError(401, 'bad_credentials', 'geotoken: invalid client id or secret')

function credential (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

async function exchange (opts: GenerateTokenOptions, clientId: string, secret: string): Promise<string> {
  let res: Response
  try {
    const endpoint = (await opts.issuer.metadata()).token_endpoint
    if (endpoint === undefined) throw new Error('the issuer publishes no token_endpoint')
    res = await fetch(endpoint, {
      method: 'POST',
      signal: AbortSignal.timeout(opts.issuer.timeoutMs),
      redirect: 'error',
      headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...(opts.scope !== undefined ? { scope: opts.scope } : {}) }).toString()
    })
  } catch (err) {
    throw unavailable('issuer_unavailable', `the token issuer is unavailable: ${(err as Error).message}`)
  }
  const body = await res.json().catch(() => ({})) as { access_token?: unknown, error?: unknown }
  if (res.status === 200 && typeof body.access_token === 'string') return body.access_token
  // RFC 6749 §5.2: these say the credentials cannot get a token here; ArcGIS clients then ask the user again.
  if (['invalid_client', 'unauthorized_client', 'invalid_grant', 'invalid_request'].includes(String(body.error))) throw badCredentials()
  if (res.status === 429) throw new KoopAuthError(429, 'rate_limited', 'too many token requests; retry later', [`retry after ${res.headers.get('retry-after') ?? 'a while'} s`])
  if (body.error === 'invalid_scope') throw new KoopAuthError(400, 'issuer_refused', `the issuer refused scope ${String(opts.scope)} for this client`)
  throw unavailable('issuer_unavailable', `the token issuer answered ${res.status}`)
}

/** Koop's `authenticate(req)`: the POST body's username and password for `{ token, expires, ssl }`. */
export async function generateToken (opts: GenerateTokenOptions, req: KoopRequest): Promise<ArcgisToken> {
  const query = req.query ?? {}
  const inUrl = 'username' in query || 'password' in query
  const body = typeof req.body === 'object' && req.body !== null ? req.body as Record<string, unknown> : {}
  const clientId = credential(body.username)
  const secret = credential(body.password)
  scrub(req, ['password'])
  // ArcGIS documents generateToken as POST only: a secret in a URL ends up in access logs and browser history.
  if (inUrl) throw new KoopAuthError(400, 'credentials_in_url', 'generateToken takes username and password in a POST body, never in the URL')
  if (clientId === undefined || secret === undefined) throw badCredentials()
  const token = await exchange(opts, clientId, secret)
  let exp: number
  try {
    exp = (await opts.verify(token)).exp
  } catch (err) {
    const refusal = fromVerifier(err)
    if (!(refusal instanceof KoopAuthError) || refusal.code !== 498) throw refusal
    // The issuer's own fresh token refused here: the plugin's issuer or audience is not the issuer's.
    throw new KoopAuthError(500, 'misconfigured', `geotoken: the issuer's token does not verify here (${refusal.reason}); check issuer and audience`)
  }
  return { token, expires: exp * 1000, ssl: opts.ssl }
}
