/** A Node command run as a child process with a clean environment, its output collected. */
import { spawn } from 'node:child_process'

export interface Run {
  child: ReturnType<typeof spawn>
  stdout: () => string
  stderr: () => string
  exit: Promise<number | null>
}

/** `node ...argv` with only PATH and `env` in its environment: nothing else of the test's may reach it. */
export function runNode(argv: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, argv, { env: { PATH: process.env.PATH ?? '', ...env } })
  let out = ''
  let err = ''
  child.stdout.on('data', chunk => {
    out += String(chunk)
  })
  child.stderr.on('data', chunk => {
    err += String(chunk)
  })
  const exit = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  return { child, stdout: () => out, stderr: () => err, exit }
}

/** Resolves with the first match of `pattern` in the process's stderr; rejects if it exits first. */
export async function waitForStderr(proc: Run, pattern: RegExp): Promise<RegExpMatchArray> {
  return await new Promise((resolve, reject) => {
    const check = (): void => {
      const match = proc.stderr().match(pattern)
      if (match !== null) {
        proc.child.stderr?.off('data', check)
        resolve(match)
      }
    }
    proc.child.stderr?.on('data', check)
    void proc.exit.then(code => reject(new Error(`exited ${String(code)} before ${String(pattern)}: ${proc.stderr()}`)))
    check()
  })
}
