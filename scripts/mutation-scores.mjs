/**
 * Mutation score per folder, from Stryker's JSON report(s):
 *   node scripts/mutation-scores.mjs [--markdown] [report.json ...]
 * With no report named, reads reports/mutation/mutation.json. Several reports (say, one
 * per scoped run) are merged; a file in more than one counts from the last one given.
 * Score = (killed + timeout) / (killed + timeout + survived + no coverage); ignored
 * (static) mutants and compile/runtime errors are not scored, as in Stryker's own report.
 */
import { readFileSync } from 'node:fs'

const FOLDERS = ['protocol/src', 'tracker/src', 'tracker/src/handlers', 'edge/src', 'client/src']
const args = process.argv.slice(2)
const markdown = args.includes('--markdown')
const reports = args.filter(arg => arg !== '--markdown')
if (reports.length === 0) reports.push('reports/mutation/mutation.json')

/** @type {Map<string, { status: string }[]>} */
const files = new Map()
for (const report of reports) {
  const json = JSON.parse(readFileSync(report, 'utf8'))
  for (const [path, file] of Object.entries(json.files)) files.set(path.replaceAll('\\', '/'), file.mutants)
}

const rows = [...FOLDERS, 'total'].map(folder => {
  const counts = { folder, killed: 0, survived: 0, timeout: 0, noCoverage: 0, ignored: 0, errors: 0 }
  for (const [path, mutants] of files) {
    if (folder !== 'total' && !path.startsWith(`${folder}/`)) continue
    for (const { status } of mutants) {
      if (status === 'Killed') counts.killed++
      else if (status === 'Survived') counts.survived++
      else if (status === 'Timeout') counts.timeout++
      else if (status === 'NoCoverage') counts.noCoverage++
      else if (status === 'Ignored') counts.ignored++
      else counts.errors++
    }
  }
  const detected = counts.killed + counts.timeout
  const valid = detected + counts.survived + counts.noCoverage
  return { ...counts, score: valid === 0 ? '-' : ((100 * detected) / valid).toFixed(1) }
})

const header = ['folder', 'killed', 'survived', 'timeout', 'no coverage', 'ignored', 'errors', 'score %']
const table = rows.map(row => [
  row.folder,
  ...[row.killed, row.survived, row.timeout, row.noCoverage, row.ignored, row.errors].map(String),
  row.score
])
if (markdown) {
  console.log(`| ${header.join(' | ')} |`)
  console.log(`|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`)
  for (const cells of table) console.log(`| ${cells.join(' | ')} |`)
} else {
  const widths = header.map((title, i) => Math.max(title.length, ...table.map(cells => cells[i].length)))
  const line = (/** @type {string[]} */ cells) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')
  console.log(line(header))
  console.log(widths.map(width => '-'.repeat(width)).join('  '))
  for (const cells of table) console.log(line(cells))
}
