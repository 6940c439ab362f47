'use strict'
// SM2 signatures and SM2/SM3 batch proofs checked with sm-crypto, an
// implementation that is not cardd's own (see tests/integration/sm2.py).
//
// stdin: JSON lines, each one of
//   {"jwk":{...},"input":"signing input","sig":"b64url r||s"}
//   {"jwk":{...},"statement":"...","proof":"H..S~N~INDEX~PATH"}
// stdout: one line per input, "ok" or "fail". Exit 0, or 2 (nothing on
// stdout, the reason on stderr) when a line is not such an object.
//
// sm-crypto's sm3() UTF-8-encodes a string argument, so bytes with 0x00 /
// 0x01 prefixes are always passed as plain Arrays of bytes, never strings.

const fs = require('fs')
const { sm2, sm3 } = require('sm-crypto')

const USER_ID = '1234567812345678'
const B64URL = /^[A-Za-z0-9_-]*$/
const DECIMAL = /^(0|[1-9][0-9]{0,14})$/

// Strict base64url (no padding, canonical) -> Buffer, or null.
function b64urlDecode (text) {
  if (typeof text !== 'string' || !B64URL.test(text) || text.length % 4 === 1) return null
  const buf = Buffer.from(text, 'base64url')
  return buf.toString('base64url') === text ? buf : null
}

// Buffer -> base64url without padding.
function b64url (buf) {
  return Buffer.from(buf).toString('base64url')
}

// SM3 of raw bytes (a Buffer), as a Buffer.
function sm3Bytes (buf) {
  return Buffer.from(sm3(Array.from(buf)), 'hex')
}

// The JWK's public key as sm-crypto wants it: '04' + X hex + Y hex.
function publicHex (jwk) {
  if (!jwk || typeof jwk !== 'object' || jwk.kty !== 'EC' || jwk.crv !== 'SM2') {
    throw new Error('not an SM2 JWK')
  }
  const x = b64urlDecode(jwk.x)
  const y = b64urlDecode(jwk.y)
  if (!x || !y || x.length !== 32 || y.length !== 32) throw new Error('bad JWK x/y')
  if (typeof jwk.kid !== 'string') throw new Error('JWK without kid')
  return '04' + x.toString('hex') + y.toString('hex')
}

// True when sig (b64url of 64-byte r||s) is an SM2 signature of input.
function verifySig (pubHex, input, sigB64) {
  const sig = b64urlDecode(sigB64)
  if (!sig || sig.length !== 64) return false
  const msg = Array.from(Buffer.from(input, 'utf8'))
  return sm2.doVerifySignature(msg, sig.toString('hex'), pubHex,
    { der: false, hash: true, userId: USER_ID }) === true
}

// True when jws (H..S, header alg SM2 and the JWK's kid) signs payload.
function verifyJws (jwk, pubHex, payload, jws) {
  const parts = jws.split('.')
  if (parts.length !== 3 || parts[1] !== '') return false
  const hdrBytes = b64urlDecode(parts[0])
  if (!hdrBytes) return false
  let hdr
  try { hdr = JSON.parse(hdrBytes.toString('utf8')) } catch (e) { return false }
  if (!hdr || typeof hdr !== 'object' || hdr.alg !== 'SM2' || hdr.kid !== jwk.kid) return false
  if ('crit' in hdr) return false
  return verifySig(pubHex, parts[0] + '.' + b64url(payload), parts[2])
}

// SM3 node hash: SM3(0x01 || left || right).
function node (left, right) {
  return sm3Bytes(Buffer.concat([Buffer.from([1]), left, right]))
}

// RFC 9162 §2.1.3.2: the root from a leaf hash and its path, or null.
function rootOf (leaf, index, n, path) {
  if (index >= n) return null
  let fn = index
  let sn = n - 1
  let r = leaf
  for (const p of path) {
    if (sn === 0) return null
    if (fn % 2 === 1 || fn === sn) {
      r = node(p, r)
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
    } else {
      r = node(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 ? r : null
}

// The exact root object bytes that the batch JWS signs.
function rootObject (n, root) {
  return Buffer.from('{"typ":"cardd-merkle","v":1,"hash":"SM3","n":' + n +
    ',"root":"' + b64url(root) + '"}', 'ascii')
}

// True when proof (H..S~N~INDEX~PATH) holds for statement under jwk.
function verifyBatch (jwk, pubHex, statement, proof) {
  const parts = proof.split('~')
  if (parts.length !== 4 || !DECIMAL.test(parts[1]) || !DECIMAL.test(parts[2])) return false
  const n = Number(parts[1])
  const index = Number(parts[2])
  const path = b64urlDecode(parts[3])
  if (!path || path.length % 32 !== 0) return false
  const hashes = []
  for (let i = 0; i < path.length; i += 32) hashes.push(path.subarray(i, i + 32))
  const leaf = sm3Bytes(Buffer.concat([Buffer.from([0]), Buffer.from(statement, 'utf8')]))
  const root = rootOf(leaf, index, n, hashes)
  if (!root) return false
  return verifyJws(jwk, pubHex, rootObject(n, root), parts[0])
}

// One parsed input line -> a function giving true/false; throws if malformed.
function parseItem (line) {
  const item = JSON.parse(line)
  if (!item || typeof item !== 'object' || Array.isArray(item)) throw new Error('not an object')
  const pubHex = publicHex(item.jwk)
  if (typeof item.input === 'string' && typeof item.sig === 'string') {
    return () => verifySig(pubHex, item.input, item.sig)
  }
  if (typeof item.statement === 'string' && typeof item.proof === 'string') {
    return () => verifyBatch(item.jwk, pubHex, item.statement, item.proof)
  }
  throw new Error('needs input+sig or statement+proof strings')
}

// Reads all of stdin, checks every line, then prints ok/fail per line.
function main () {
  const lines = fs.readFileSync(0, 'utf8').split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  let checks
  try {
    checks = lines.map((line, i) => {
      try { return parseItem(line) } catch (e) { throw new Error('line ' + (i + 1) + ': ' + e.message) }
    })
  } catch (e) {
    process.stderr.write('sm2_verify: ' + e.message + '\n')
    process.exitCode = 2
    return
  }
  const out = checks.map((check) => (check() ? 'ok' : 'fail'))
  process.stdout.write(out.map((s) => s + '\n').join(''))
}

main()
