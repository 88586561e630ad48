// Owns crash-safe file I/O for the stores: whole writes, atomic replace, directory fsync, change polling (locking: file-lock.ts).
import { open, rename, unlink, stat, readFile, mkdir, readdir, type FileHandle } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname, basename, join, resolve as resolvePath } from 'node:path'

/**
 * Writes all of `data` at `position` (default: the file's position). One write() may take only part of it (a
 * file-size limit, a full disk: the rest then fails with EFBIG or ENOSPC), so one call is never trusted to write it all.
 */
export async function writeAll (fh: FileHandle, data: Buffer, position?: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position === undefined ? null : position + done)
    if (bytesWritten === 0) throw Object.assign(new Error('write() made no progress'), { code: 'EIO' })
    done += bytesWritten
  }
}

/** Makes the directory's entries durable: a created or renamed file is otherwise not on disk after a power loss. */
export async function syncDir (dir: string): Promise<void> {
  const dh = await open(dir, 'r')
  try { await dh.sync() } finally { await dh.close() }
}

/** mkdir -p whose new entries survive a power loss: the parent of each directory it creates is fsynced. */
export async function mkdirDurable (dir: string): Promise<void> {
  const target = resolvePath(dir)
  const first = await mkdir(target, { recursive: true, mode: 0o700 })
  if (first === undefined) return
  for (let d = target; d !== dirname(first) && d !== dirname(d); d = dirname(d)) await syncDir(dirname(d))
}

/**
 * Replaces `path` with `data` so a crash at any moment leaves either the old or the new file,
 * never a mix: write a temp file in the same directory, fsync it, rename over, fsync the directory.
 * On any failure the temp file is removed (it can be as big as the file) and the old file is untouched.
 */
export async function writeFileAtomic (path: string, data: string | Iterable<string>, mode = 0o600): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', mode)
  try {
    try {
      if (typeof data === 'string') {
        await writeAll(fh, Buffer.from(data))
      } else {
        // Large files (snapshots) are written in chunks so no single string has to hold them.
        let chunk = ''
        for (const part of data) {
          chunk += part
          if (chunk.length >= 1 << 20) { await writeAll(fh, Buffer.from(chunk)); chunk = '' }
        }
        await writeAll(fh, Buffer.from(chunk))
      }
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await syncDir(dir)
}

/** What writeFileAtomic puts after `.<name>`: `.<pid>.<12 hex>.tmp`. */
const TEMP_SUFFIX = /^\.\d+\.[0-9a-f]{12}\.tmp$/

/**
 * Removes the temp files that writeFileAtomic(`path`) left when a crash cut it short, and returns their total
 * size. Any process id is removed: after a crash the new process may well have the old one's pid (in a container
 * it is always 1), so only a caller that alone writes `path` may call this, before it writes.
 */
export async function removeStaleTemps (path: string): Promise<{ files: number, bytes: number }> {
  const dir = dirname(path)
  const prefix = `.${basename(path)}`
  let files = 0
  let bytes = 0
  for (const name of await readdir(dir)) {
    if (!name.startsWith(prefix) || !TEMP_SUFFIX.test(name.slice(prefix.length))) continue
    const temp = join(dir, name)
    const size = await stat(temp).then(s => s.size, () => 0)
    await unlink(temp).then(() => { files++; bytes += size }, (err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
  }
  return { files, bytes }
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
