import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../../edge/src/package-root.js'

export interface Machine {
  cores: number
  cpu: string
  memoryGiB: number
  node: string
  chromium?: string
  date: string
}

export function machine(extra: Partial<Machine> = {}): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
    ...extra
  }
}

export function median(values: number[]): number {
  return quantile(values, 0.5)
}

/** Linear-interpolated quantile; NaN for no values. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

/** A Markdown table from a header row and data rows. */
export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

/**
 * Print the Markdown and one JSON line, and write both under bench/results/ as
 * `<name>.md` and `<name>.json` so runs can be compared with git diff.
 */
export async function writeResults(name: string, markdown: string, json: object): Promise<void> {
  const dir = join(packageRoot(), 'bench', 'results')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, `${name}.md`), markdown + '\n')
  await writeFile(join(dir, `${name}.json`), JSON.stringify(json, null, 2) + '\n')
  console.log(markdown)
  console.log(JSON.stringify(json))
}
