// Child process for the lock tests (driven by lock-worker.ts): on command, takes withLock repeatedly and records each hold, or holds it until killed.
import { appendFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { withLock } from '../../src/shared/file-lock.js'
import { StoreLocked } from '../../src/shared/errors.js'

export type LockCommand =
  | { kind: 'contend', path: string, log: string, rounds: number, holdMs: number }
  | { kind: 'hold', path: string }
  | { kind: 'churn', path: string }

const send = (message: string): void => { process.send?.(message) }
const locked = (path: string) => (holder: string) => new StoreLocked(path, holder)
// CLOCK_MONOTONIC is one clock for every process on the machine: holds recorded by different workers compare.
const stamp = (): string => process.hrtime.bigint().toString()

process.on('message', (command: LockCommand) => {
  void (async () => {
    if (command.kind === 'contend') {
      for (let i = 0; i < command.rounds; i++) {
        await withLock(command.path, async () => {
          appendFileSync(command.log, `enter ${process.pid} ${stamp()}\n`)
          await sleep(command.holdMs)
          appendFileSync(command.log, `exit ${process.pid} ${stamp()}\n`)
        }, locked(command.path))
      }
      send('done')
    } else if (command.kind === 'hold') {
      await withLock(command.path, async () => {
        send('held')
        // Nothing references this never-settling hold: collecting garbage must not release the lock.
        setInterval(() => { (globalThis as { gc?: () => void }).gc?.() }, 20)
        await new Promise(() => {})
      }, locked(command.path))
    } else {
      // Takes and releases the lock as fast as it can, so a kill lands at any point of acquire, hold or release.
      send('churning')
      for (;;) await withLock(command.path, async () => {}, locked(command.path))
    }
  })()
})
send('ready')
