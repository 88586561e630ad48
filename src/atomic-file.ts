// Owns crash-safe file I/O for the key and client stores: atomic replace and change polling (locking: file-lock.ts).
import { open, rename, unlink, stat, readFile, mkdir } from 'node:fs/promises'
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
