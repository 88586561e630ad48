// Owns DATA_DIR/demo-credentials.json: where the demo clients' secrets go on first start, instead of stdout.
import { join } from 'node:path'
import { writeFileAtomic } from '../shared/atomic-file.js'
import type { DemoClient } from './store.js'

export const DEMO_CREDENTIALS_FILE = 'demo-credentials.json'

/**
 * Stdout is the log stream (`npm start | grep`, a log collector): a secret printed there is swallowed or stored.
 * The file is 0600 like clients.json and the key ring, and it stays readable for the tour (docs) after the
 * terminal has scrolled. Only demo clients land here; `add-client` prints a secret once and keeps none.
 */
export async function writeDemoCredentials (dir: string, demo: readonly DemoClient[]): Promise<string> {
  const path = join(dir, DEMO_CREDENTIALS_FILE)
  const byOrg = Object.fromEntries(demo.map(c => [c.org, { client_id: c.client_id, client_secret: c.client_secret }]))
  await writeFileAtomic(path, JSON.stringify(byOrg, null, 2) + '\n', 0o600)
  return path
}
