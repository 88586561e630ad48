// Owns the line format the journal and the snapshot share: each line is `<crc32 hex> <text>\n`, read in large chunks.
import { open, stat } from 'node:fs/promises'
import { crc32 } from 'node:zlib'

export const frame = (json: string): string => `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`

export async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, (err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return false; throw err })
}

/**
 * Calls `fn` with each line of a file as a range of bytes, reading it in large chunks: a million lines cost
 * no million strings or stream events. A last line without its newline is passed too (the caller's checks catch it).
 */
export async function eachLine (path: string, fn: (buf: Buffer, start: number, end: number, n: number) => void): Promise<void> {
  const fh = await open(path, 'r')
  try {
    let buf = Buffer.allocUnsafe(1 << 22)
    let filled = 0
    let n = 0
    for (;;) {
      // A line longer than the buffer: grow it so the whole line fits.
      if (filled === buf.length) buf = Buffer.concat([buf, Buffer.allocUnsafe(buf.length)])
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, null)
      if (bytesRead === 0) break
      filled += bytesRead
      const view = buf.subarray(0, filled)
      let start = 0
      for (let nl = view.indexOf(10, start); nl !== -1; nl = view.indexOf(10, start)) {
        fn(view, start, nl, ++n)
        start = nl + 1
      }
      buf.copyWithin(0, start, filled)
      filled -= start
    }
    if (filled > 0) fn(buf.subarray(0, filled), 0, filled, ++n)
  } finally {
    await fh.close()
  }
}

const HEX = Buffer.from('0123456789abcdef')

/** Whether bytes [start, end) are a frame: 8 hex digits of the CRC-32 of what follows the space. */
export function framed (buf: Buffer, start: number, end: number): boolean {
  if (end - start <= 9 || buf[start + 8] !== 32) return false
  let crc = crc32(buf.subarray(start + 9, end))
  for (let i = start + 7; i >= start; i--, crc >>>= 4) if (buf[i] !== HEX[crc & 15]) return false
  return true
}
