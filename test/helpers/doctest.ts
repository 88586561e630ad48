// Runs the documentation's runnable blocks as written: README.md and docs/*.md mark them with an HTML comment
// on the line before the fence, invisible when rendered:
//   <!-- doctest: NAME -->                          a shell block of scenario NAME, run in order in one bash
//   <!-- doctest: NAME file=server.ts -->           a file the scenario writes (in the shell's current directory)
//   <!-- doctest: NAME background wait=HOST:PORT --> a long-running command (npm start): started in its own process
//                                                    group, waited for until HOST:PORT accepts connections, and
//                                                    stopped at the end with SIGINT, as Ctrl-C would; whatever ran
//                                                    before in the background is stopped first (Ctrl-C, start again)
//   <!-- doctest: NAME background alongside wait=… --> the same in another terminal: what runs already keeps running
//   <!-- doctest: NAME exit=1 -->                   a command whose documented exit status is not 0
//   <!-- doctest: NAME output -->                   what the block before printed: each line, in order, must be a
//                                                    line of its output ("…" matches anything)
//   <!-- doctest: NAME output log -->               what the last background command has printed so far (its
//                                                    terminal: colours removed), after the block before ran
//   <!-- doctest: skip REASON -->                   shown but not run (a cron line, a placeholder), with the reason
import { spawn } from 'node:child_process'
import { copyFile, mkdir, readFile, readdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { userEnv } from './npm.js'

export { ROOT } from './npm.js'
import { ROOT } from './npm.js'

export interface Block {
  file: string
  line: number
  scenario: string
  /** The marker's text after the scenario name: attributes, or a skip's reason. */
  rest: string
  lang: string
  text: string
  attrs: { file?: string, background: boolean, alongside: boolean, wait?: string, exit: number, output: boolean, log: boolean }
}

/** Every fenced block of README.md and docs/*.md, with its marker (scenario '' when unmarked). */
export async function allBlocks (): Promise<Block[]> {
  const files = ['README.md', ...(await readdir(join(ROOT, 'docs'))).filter(f => f.endsWith('.md')).map(f => `docs/${f}`)]
  const blocks: Block[] = []
  for (const file of files) {
    const lines = (await readFile(join(ROOT, file), 'utf8')).split('\n')
    for (let i = 0; i < lines.length; i++) {
      const fence = /^```(\S*)/.exec(lines[i] as string)
      if (fence === null) continue
      const start = i
      let end = i + 1
      while (end < lines.length && lines[end] !== '```') end++
      const marker = /^<!-- doctest: (\S+)(.*?) -->$/.exec(lines[start - 1] ?? '')
      const rest = marker?.[2] ?? ''
      blocks.push({
        file,
        line: start + 1,
        scenario: marker?.[1] ?? '',
        rest: rest.trim(),
        lang: fence[1] ?? '',
        text: lines.slice(start + 1, end).join('\n'),
        attrs: {
          file: /\bfile=(\S+)/.exec(rest)?.[1],
          background: /\bbackground\b/.test(rest),
          alongside: /\balongside\b/.test(rest),
          wait: /\bwait=(\S+)/.exec(rest)?.[1],
          exit: Number(/\bexit=(\d+)/.exec(rest)?.[1] ?? 0),
          output: /\boutput\b/.test(rest),
          log: /\blog\b/.test(rest)
        }
      })
      i = end
    }
  }
  return blocks
}

export async function scenario (name: string): Promise<Block[]> {
  return (await allBlocks()).filter(b => b.scenario === name)
}

const SEPARATOR = (n: number): string => `@@doctest ${n}@@`

/**
 * The bash program for a scenario's blocks, in one shell as a reader would type them (`cd` and variables carry
 * over), under `set -euo pipefail`: a failing command or an unset variable stops the run, naming the block.
 * `replace` maps literal text (a documented port) to this run's.
 */
export function program (blocks: readonly Block[], replace: Readonly<Record<string, string>> = {}): string {
  const sub = (text: string): string => Object.entries(replace).reduce((t, [from, to]) => t.split(from).join(to), text)
  const parts = [
    // tap's process tracking adds its loader to every child it sees spawned: a reader's shell has none of it.
    'unset NODE_OPTIONS; for v in $(compgen -e | grep -E "^(_TAPJS_|TAP_|TAP$)"); do unset "$v"; done',
    // A block's output is what a terminal shows: both streams. The runner's own messages go to fd 3.
    'exec 3>&2 2>&1',
    'set -euo pipefail',
    'DOCTEST_GROUPS=()',
    'DOCTEST_AT=start',
    // Ctrl-C in a terminal signals the whole foreground process group: npm, its shell, node.
    'doctest_stop () { for g in "${DOCTEST_GROUPS[@]}"; do kill -INT -- "-$g" 2>/dev/null || true; done; for g in "${DOCTEST_GROUPS[@]}"; do for i in $(seq 100); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done; done; DOCTEST_GROUPS=(); }',
    'trap \'rc=$?; [ "$rc" -eq 0 ] || echo "doctest: failed with status $rc in the block at $DOCTEST_AT" >&3; doctest_stop\' EXIT'
  ]
  let background: number | undefined
  blocks.forEach((b, n) => {
    if (b.attrs.output) {
      // A log line is written when its request finishes, a moment after the client has its answer.
      if (b.attrs.log && background !== undefined) parts.push(`printf '\\n${SEPARATOR(n)}\\n'`, `sleep 0.3; sed 's/\\x1b\\[[0-9;]*m//g' .doctest-${background}.log`)
      return
    }
    parts.push(`printf '\\n${SEPARATOR(n)}\\n'`, `DOCTEST_AT=${JSON.stringify(`${b.file}:${b.line}`)}`)
    const text = sub(b.text)
    if (b.attrs.file !== undefined) {
      parts.push(`cat > ${b.attrs.file} <<'DOCTEST_EOF'\n${text}\nDOCTEST_EOF`)
    } else if (b.attrs.background) {
      // The docs say: stop it with Ctrl-C, then start it again. Whatever ran before in the background stops first.
      const [host, port] = sub(b.attrs.wait ?? '').split(':')
      if (!b.attrs.alongside) parts.push('doctest_stop')
      background = n
      parts.push(`setsid bash -c ${JSON.stringify(text)} > .doctest-${n}.log 2>&1 &`, 'DOCTEST_GROUPS+=($!)')
      parts.push(`for i in $(seq 600); do (exec 3<>/dev/tcp/${host}/${port}) 2>/dev/null && break; sleep 0.1; done`)
      parts.push(`(exec 3<>/dev/tcp/${host}/${port}) 2>/dev/null || { cat .doctest-${n}.log >&3; echo "doctest: never listened on ${host}:${port}" >&3; exit 97; }`)
      parts.push(`sleep 0.3; cat .doctest-${n}.log`)
    } else if (b.attrs.exit !== 0) {
      parts.push(`rc=0; ( ${text}\n) || rc=$?`, `[ "$rc" -eq ${b.attrs.exit} ] || { echo "doctest: exited $rc, documented ${b.attrs.exit}" >&3; exit 98; }`)
    } else {
      parts.push(text)
    }
  })
  parts.push(`printf '\\n${SEPARATOR(blocks.length)}\\n'`)
  return parts.join('\n')
}

export interface Run { code: number, stdout: string, stderr: string, outputs: Map<number, string> }

/** Runs the program with bash in `cwd`; `outputs` maps each block's index to what it printed. */
export async function runScenario (blocks: readonly Block[], cwd: string, env: Record<string, string>, replace: Readonly<Record<string, string>> = {}, timeoutMs = 600_000): Promise<Run> {
  const child = spawn('bash', ['-c', program(blocks, replace)], { cwd, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  // stderr carries the runner's own messages (fd 3); the blocks' stderr is in stdout, as on a terminal.
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += String(d) })
  child.stderr.on('data', (d: Buffer) => { stderr += String(d) })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number>(resolve => child.once('close', c => { resolve(c ?? 1) }))
  clearTimeout(timer)
  const outputs = new Map<number, string>()
  const pieces = stdout.split(/\n@@doctest (\d+)@@\n/)
  for (let i = 1; i + 1 < pieces.length; i += 2) outputs.set(Number(pieces[i]), pieces[i + 1] as string)
  return { code, stdout, stderr, outputs }
}

/** The documented output's lines, in order, among the printed lines; "…" matches any text. */
export function matchesOutput (documented: string, printed: string): string | undefined {
  const wanted = documented.split('\n').filter(l => l.trim() !== '')
  const got = printed.split('\n')
  let at = 0
  for (const line of wanted) {
    const re = new RegExp(`^${line.split('…').map(p => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
    while (at < got.length && !re.test(got[at] as string)) at++
    if (at === got.length) return `documented line not printed (in order): ${line}`
    at++
  }
  return undefined
}

/** Checks each output block (with the run's replacements) against what the block before it printed. */
export function checkOutputs (blocks: readonly Block[], run: Run, replace: Readonly<Record<string, string>> = {}): string[] {
  const problems: string[] = []
  blocks.forEach((b, n) => {
    if (!b.attrs.output) return
    const printed = run.outputs.get(b.attrs.log ? n : n - 1) ?? ''
    const miss = matchesOutput(Object.entries(replace).reduce((t, [from, to]) => t.split(from).join(to), b.text), printed)
    if (miss !== undefined) problems.push(`${b.file}:${b.line}: ${miss}\n--- printed:\n${printed}`)
  })
  return problems
}

/** What to show when a run failed: the end of what the blocks printed, and the runner's message. */
export function failure (run: Run): string {
  return `${run.stdout.slice(-3000)}\n${run.stderr}`
}

/**
 * A directory that looks like a fresh checkout after `npm install` (the build, scripts and dependencies linked to
 * this one) with its own empty keys/ and a data/ holding only the seed: where a doc's `npm start` and admin
 * commands run with their default DATA_DIR and KEYS_DIR, as in a reader's checkout.
 */
export async function checkoutReplica (dir: string): Promise<string> {
  for (const name of ['package.json', 'node_modules', 'dist', 'scripts', 'src', 'examples', 'tsconfig.json', 'tsconfig.build.json']) {
    await symlink(join(ROOT, name), join(dir, name))
  }
  await mkdir(join(dir, 'data'))
  await copyFile(join(ROOT, 'data', 'seed.geojson'), join(dir, 'data', 'seed.geojson'))
  return dir
}
