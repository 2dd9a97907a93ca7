// `debug` stand-in: the SDK never enables simple-peer's debug output (client/ has no console).
function debug() {
  const log = () => {}
  log.enabled = false
  return log
}
module.exports = debug
module.exports.default = debug
