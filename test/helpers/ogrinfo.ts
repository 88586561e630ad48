// GDAL's ogrinfo as a standard OGC API - Features client of a service listening on loopback.
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import type { Test } from 'tap'

export const hasOgr = (() => { try { execFileSync('ogrinfo', ['--version']); return true } catch { return false } })()

/** Runs `ogrinfo -ro ARGS` with `token` as its Bearer header; any GDAL ERROR line fails the test. */
export function ogrinfo (t: Pick<Test, 'notMatch'>): (token: string, ...args: string[]) => Promise<string> {
  return async (token, ...args) => {
    const { stdout, stderr } = await promisify(execFile)('ogrinfo', ['-ro', ...args], {
      env: { ...process.env, GDAL_HTTP_HEADERS: `Authorization: Bearer ${token}`, CPL_DEBUG: 'OFF' }, timeout: 30_000
    })
    t.notMatch(stderr, /ERROR/, `no GDAL error for ${args.join(' ')}`)
    return stdout
  }
}
