// Child process for the crash-safety test: rewrites keyring.json in a loop until it is killed.
import { saveRing } from '../../src/keys/store.js'
import { testRing } from './app.js'

const dir = process.argv[2] as string
const ring = await testRing()
let i = 0
process.send?.('ready')
for (;;) {
  // Alternate the signing key so successive files differ.
  const keys = i++ % 2 === 0 ? ring.keys : [...ring.keys].reverse().map(k => ({ ...k, state: k.state === 'current' ? 'next' as const : 'current' as const }))
  await saveRing(dir, { keys })
}
