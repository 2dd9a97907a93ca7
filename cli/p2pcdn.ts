/** `p2pcdn <command>`: one entry for every service, as package.json `bin`. */
import { errorMessageOf } from '../protocol/src/index.js'

const USAGE = `Usage: p2pcdn <command> [options]

Commands:
  tracker    WebSocket tracker:  p2pcdn tracker --port 8000 [--host 127.0.0.1] [--edge-token T]
  edge       caching edge node:  p2pcdn edge --port 8081 --origin URL --region eu --tracker ws://127.0.0.1:8000 --edge-token T
  demo       local demo: origin, tracker, two edges and a demo page on http://127.0.0.1:8080
  manifest   print the manifest of a file:  p2pcdn manifest FILE [--chunk-size BYTES] [--url URL --sign KEY] [--out FILE]
  keygen     Ed25519 key pair for signed manifests:  p2pcdn keygen [--out PREFIX]

Every flag also has an environment variable: --edge-token is P2PCDN_EDGE_TOKEN, and so on.
tracker and edge take --config FILE: the same options as JSON, keyed in camelCase ({"edgeToken": "T"}).`

const [command, ...rest] = process.argv.slice(2)

async function run(): Promise<void> {
  switch (command) {
    case 'tracker':
      await (await import('../tracker/src/main.js')).main(rest, process.env)
      break
    case 'edge':
      await (await import('../edge/src/main.js')).main(rest, process.env)
      break
    case 'manifest':
      await (await import('../edge/src/manifest-cli.js')).manifestMain(rest)
      break
    case 'keygen':
      await (await import('../edge/src/keygen-cli.js')).keygenMain(rest)
      break
    case 'demo':
      await (await import('../examples/demo/main.js')).main(rest, process.env)
      break
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE)
      break
    default:
      console.error(`p2pcdn: unknown command "${command}"\n\n${USAGE}`)
      process.exitCode = 2
  }
}

run().catch((err: unknown) => {
  console.error(`p2pcdn ${command ?? ''}: ${errorMessageOf(err)}`)
  process.exit(1)
})
