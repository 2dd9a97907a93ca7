/** Asking a bench child process over IPC. */
import type { ChildProcess } from 'node:child_process'

/**
 * Send `msg` (none: just wait) and resolve with the child's next reply of `type`. Rejects
 * on a reply of type `error`, when the child exits, or after `timeoutMs`.
 */
export async function request<T>(
  proc: ChildProcess,
  msg: object | undefined,
  type: string,
  timeoutMs: number
): Promise<T> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`no ${type} reply to ${JSON.stringify(msg)} within ${timeoutMs} ms`))
    }, timeoutMs)
    const onMessage = (reply: { type?: string; message?: string }): void => {
      if (reply.type === 'error') {
        cleanup()
        reject(new Error(reply.message))
      } else if (reply.type === type) {
        cleanup()
        resolve(reply as T)
      }
    }
    const onExit = (code: number | null): void => {
      cleanup()
      reject(new Error(`child exited with ${String(code)}`))
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      proc.off('message', onMessage)
      proc.off('exit', onExit)
    }
    proc.on('message', onMessage)
    proc.once('exit', onExit)
    if (msg !== undefined) proc.send(msg)
  })
}
