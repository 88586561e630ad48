// A stand-in identity provider for the jwt-bearer grant (RFC 7523): an issuer URL and a JWKS over real HTTP.
import type { Test } from 'tap'
import { createServer, type Server } from 'node:http'
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

export interface Idp { issuer: string, rsa: KeyObject, ec: KeyObject, jwksHits: () => number, server: Server }

/** An identity provider as far as we can tell: an issuer URL and a JWKS (one RSA, one P-256 key) over HTTP. */
export async function startIdp (t: Pick<Test, 'teardown'>): Promise<Idp> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwks = JSON.stringify({
    keys: [
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'idp-rsa', alg: 'RS256', use: 'sig' },
      { ...ec.publicKey.export({ format: 'jwk' }), kid: 'idp-ec', alg: 'ES256', use: 'sig' }
    ]
  })
  let hits = 0
  const server = createServer((req, res) => {
    if (req.url !== '/jwks') { res.writeHead(404).end(); return }
    hits++
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(jwks)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return { issuer, rsa: rsa.privateKey, ec: ec.privateKey, jwksHits: () => hits, server }
}

/** A trusted-issuers file naming `idp` (org acme, read and write unless `extra` says otherwise), plus `more` issuers. */
export function trustedFile (idp: Idp, extra: Record<string, unknown> = {}, more: object[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'geotoken-idp-'))
  const file = join(dir, 'trusted-issuers.json')
  writeFileSync(file, JSON.stringify({
    issuers: [{ issuer: idp.issuer, jwks_uri: `${idp.issuer}/jwks`, org: { fixed: 'acme' }, scopes: ['features:read', 'features:write'], ...extra }, ...more]
  }))
  return file
}

export interface AssertionOptions { alg?: 'RS256' | 'ES256', kid?: string, claims?: Record<string, unknown>, expiresIn?: number, omit?: string[], key?: KeyObject, header?: Record<string, unknown>, audience?: string }

/** An assertion signed by the IdP for alice@acme.example, addressed to `audience` (our token endpoint by default). */
export async function assertion (idp: Idp, o: AssertionOptions = {}): Promise<string> {
  const alg = o.alg ?? 'RS256'
  const now = Math.floor(Date.now() / 1000)
  const claims: Record<string, unknown> = { iss: idp.issuer, sub: 'alice@acme.example', aud: o.audience ?? 'http://geotoken.test/oauth/token', exp: now + (o.expiresIn ?? 120), iat: now, jti: randomUUID(), ...o.claims }
  for (const name of o.omit ?? []) delete claims[name]
  return await new SignJWT(claims).setProtectedHeader({ alg, kid: o.kid ?? (alg === 'RS256' ? 'idp-rsa' : 'idp-ec'), ...o.header }).sign(o.key ?? (alg === 'RS256' ? idp.rsa : idp.ec))
}
