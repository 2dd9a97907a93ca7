/**
 * Runs `p2pcdn edge` in a child process for the SIGKILL test: argv after the script
 * are the edge's flags. The edge prints its JSON log lines (with the `listening` URL).
 */
import { main } from '../../edge/src/main.js'

await main(process.argv.slice(2), {})
