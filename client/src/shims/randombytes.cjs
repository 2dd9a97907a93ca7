// `randombytes` stand-in: simple-peer only turns random bytes into hex ids.
module.exports = function randombytes(n) {
  const bytes = crypto.getRandomValues(new Uint8Array(n))
  return { toString: () => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('') }
}
