// Benchmark case: the tutorial pattern, Express + jsonwebtoken verifying an RS256 Bearer token with the PEM.
// The runner passes the PEM and the claims to check, so the same geotoken-issued token is verified here.
import express from 'express'
import jwt from 'jsonwebtoken'
import { announce } from './ready.js'

const pem = process.env.BENCH_PEM ?? ''
const issuer = process.env.BENCH_ISSUER ?? ''
const audience = process.env.BENCH_AUDIENCE ?? ''

const app = express()
app.get('/protected', (req, res) => {
  const header = req.headers.authorization ?? ''
  if (!header.startsWith('Bearer ')) { res.status(401).json({ error: 'invalid_token' }); return }
  try {
    const claims = jwt.verify(header.slice(7), pem, { algorithms: ['RS256'], issuer, audience }) as { org: string }
    res.json({ org: claims.org })
  } catch {
    res.status(401).json({ error: 'invalid_token' })
  }
})
const server = app.listen(0, '127.0.0.1', () => announce({ port: (server.address() as { port: number }).port }))
