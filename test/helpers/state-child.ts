// Another process on the same token-state file, as an admin command beside the service would be.
// node --import tsx test/helpers/state-child.ts DATA_DIR COMMAND ARGS...; prints one JSON line with its answer.
//   deny JTI EXPIRES_AT_MS       revoked.add
//   revoke-family FAMILY_ID      refreshFamilies.revokeFamily
//   mark-used HASH...            refreshFamilies.markUsed of each, in order with short random pauses, once "go" arrives on stdin (it says
//                                "ready" before, "started" after); prints the hashes it won
import { openTokenStateBackend } from '../../src/tokens/backend.js'

// SQLite's busy handler sleeps while a writer in a tight loop takes the lock again at once: without pauses one
// process would spend every token before the other got a turn, and nothing would race.
const pause = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, Math.random() * 2)) }

const [dataDir, command, ...args] = process.argv.slice(2)
if (dataDir === undefined || command === undefined) throw new Error('usage: state-child.ts DATA_DIR COMMAND ARGS...')
const backend = await openTokenStateBackend({ store: 'embedded', dataDir, clock: Date.now })
let answer: unknown
switch (command) {
  case 'deny': answer = await backend.revoked.add(args[0] as string, Number(args[1])); break
  case 'revoke-family': answer = await backend.refreshFamilies.revokeFamily(args[0] as string); break
  case 'mark-used': {
    process.stdout.write('ready\n')
    await new Promise(resolve => process.stdin.once('data', resolve))
    process.stdin.destroy()
    process.stdout.write('started\n')
    const won: string[] = []
    for (const hash of args) {
      if (await backend.refreshFamilies.markUsed(hash)) won.push(hash)
      await pause()
    }
    answer = won
    break
  }
  default: throw new Error(`unknown command ${command}`)
}
await backend.close()
process.stdout.write(`${JSON.stringify(answer)}\n`)
