// The layout of DESIGN.md, enforced: protocol/ at the bottom (pure, imports nothing from
// Node, the DOM or npm), service/ the Node kit that tracker/ and edge/ share, client/ the
// browser SDK that sees only protocol/, and no arrow running back up or round in a cycle.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles hide which module owns what.',
      from: {},
      to: { circular: true }
    },
    {
      name: 'protocol-is-pure',
      severity: 'error',
      comment: 'protocol/ runs everywhere: it may import only protocol/.',
      from: { path: '^protocol/' },
      to: { pathNot: '^protocol/' }
    },
    {
      name: 'client-sees-only-protocol',
      severity: 'error',
      comment:
        'The browser SDK may import client/, protocol/ and its browser packages, nothing of Node or the services.',
      from: { path: '^client/' },
      to: { pathNot: ['^client/', '^protocol/', '^node_modules/(idb-keyval|simple-peer)/'] }
    },
    {
      name: 'service-below-tracker-and-edge',
      severity: 'error',
      comment: 'service/ is the Node kit under tracker/ and edge/: it must not reach up into them.',
      from: { path: '^service/' },
      to: { path: '^(tracker|edge|client|cli)/' }
    },
    {
      name: 'tracker-and-edge-apart',
      severity: 'error',
      comment: 'Tracker and edge talk over the wire protocol only; what both need lives in protocol/ or service/.',
      from: { path: '^tracker/' },
      to: { path: '^(edge|client|cli)/' }
    },
    {
      name: 'edge-and-tracker-apart',
      severity: 'error',
      from: { path: '^edge/' },
      to: { path: '^(tracker|client|cli)/' }
    },
    {
      name: 'shipped-code-not-on-tests',
      severity: 'error',
      comment: 'Shipped code never imports tests, benches or examples (the CLI runs the demo: `p2pcdn demo`).',
      from: { path: '^(protocol|service|tracker|edge|client|cli)/' },
      to: { path: '^(test|bench|examples)/', pathNot: '^examples/demo/' }
    },
    {
      name: 'only-the-cli-runs-the-demo',
      severity: 'error',
      from: { path: '^(protocol|service|tracker|edge|client)/' },
      to: { path: '^examples/' }
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'Every file import resolves. Packages are left to tsc: the resolver misses exports-only ESM packages (structured-headers).',
      from: {},
      to: { couldNotResolve: true, pathNot: '^[a-z@]' }
    }
  ],
  options: {
    exclude: { path: '^(node_modules|dist|test-results|reports|\\.stryker-tmp|examples/site/media)/' },
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true
  }
}
