// Owns crash-safe file I/O for the key and client stores: atomic replace, an exclusive lock, change polling.
import { open, rename, unlink, stat, readFile, writeFile, mkdir } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname, basename, join } from 'node:path'

/**
 * Replaces `path` with `data` so a crash at any moment leaves either the old or the new file,
 * never a mix: write a temp file in the same directory, fsync it, rename over, fsync the directory.
 */
export async function writeFileAtomic (path: string, data: string | Iterable<string>, mode = 0o600): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', mode)
  try {
    if (typeof data === 'string') {
      await fh.writeFile(data)
    } else {
      // Large files (snapshots) are written in chunks so no single string has to hold them.
      let chunk = ''
      for (const part of data) {
        chunk += part
        if (chunk.length >= 1 << 20) { await fh.write(chunk); chunk = '' }
      }
      await fh.write(chunk)
    }
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  const dh = await open(dir, 'r')
  try { await dh.sync() } finally { await dh.close() }
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * Runs `fn` holding `<path>.lock` (O_EXCL), so two cron runs of a script cannot both read the old
 * file and lose one update. A lock left by a dead process is taken over.
 */
export async function withLock<T> (path: string, fn: () => Promise<T>, onBusy: (holder: string) => Error): Promise<T> {
  const lock = `${path}.lock`
  await mkdir(dirname(lock), { recursive: true, mode: 0o700 })
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx', mode: 0o600 })
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = await readFile(lock, 'utf8').catch(() => '')
      const pid = Number.parseInt(holder, 10)
      if (attempt < 50 && Number.isInteger(pid) && pid > 0 && !alive(pid)) { await unlink(lock).catch(() => {}); continue }
      if (attempt < 50) { await new Promise(resolve => setTimeout(resolve, 100)); continue }
      throw onBusy(`pid ${holder || 'unknown'}`)
    }
  }
  try { return await fn() } finally { await unlink(lock).catch(() => {}) }
}

/** A cheap identity of a file version: a rename changes the inode, an in-place edit the mtime or size. */
export async function fileVersion (path: string): Promise<string | null> {
  try {
    const s = await stat(path, { bigint: true })
    return `${s.ino}:${s.size}:${s.mtimeNs}`
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** Reads a file, or null when it does not exist; every other error propagates. */
export async function readIfExists (path: string): Promise<string | null> {
  try { return await readFile(path, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}
