// Start-up as an operator sees it: a fresh process opens the feature store in DIR (snapshot + journal) and
// reports how long open() took to ready, in wall and CPU ms, as one JSON line. Used by bench/bbox.ts.
import { EmbeddedFeatureStore } from '../src/features/embedded/store.js'
import type { Log } from '../src/shared/log.js'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: open-store.ts DIR')
const silent = { info: () => {}, warn: () => {}, error: () => {} } as unknown as Log
const t0 = performance.now()
const cpu0 = process.cpuUsage()
const store = await EmbeddedFeatureStore.open({ dir, log: silent, compactEvery: Number.MAX_SAFE_INTEGER })
const wallMs = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
console.log(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }))
await store.close()
