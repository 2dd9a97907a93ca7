// `buffer` stand-in: simple-peer only calls Buffer.from(ArrayBuffer) on incoming messages.
exports.Buffer = { from: data => new Uint8Array(data) }
