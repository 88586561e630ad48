// Parent side of the lock tests: a real process (lock-child.ts) that takes the store lock on command.
import { fork, type ChildProcess } from 'node:child_process'
import type { Test } from 'tap'
import type { LockCommand } from './lock-child.js'

const child = new URL('./lock-child.ts', import.meta.url)

export interface LockWorker {
  child: ChildProcess
  /** Resolves when the worker sends `message`; rejects if it exits first. */
  next: (message: string) => Promise<void>
  send: (command: LockCommand) => void
  /** SIGKILL, then wait for the exit. */
  kill: () => Promise<void>
}

export async function startLockWorker (t: Pick<Test, 'teardown'>): Promise<LockWorker> {
  const proc = fork(child, [], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  t.teardown(() => { proc.kill('SIGKILL') })
  const next = async (message: string): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown): void => { if (m === message) { proc.off('exit', onExit); proc.off('message', onMessage); resolve() } }
      const onExit = (code: number | null): void => { reject(new Error(`lock worker exited (${String(code)}) before "${message}"`)) }
      proc.on('message', onMessage)
      proc.once('exit', onExit)
    })
  }
  const kill = async (): Promise<void> => {
    const exit = new Promise(resolve => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exit
  }
  await next('ready')
  return { child: proc, next, send: command => { proc.send(command) }, kill }
}

/** A worker holding the lock on `path` until it is killed. */
export async function holdLock (t: Pick<Test, 'teardown'>, path: string): Promise<LockWorker> {
  const worker = await startLockWorker(t)
  const held = worker.next('held')
  worker.send({ kind: 'hold', path })
  await held
  return worker
}
