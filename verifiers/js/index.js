// SPDX-License-Identifier: MIT
// Verify cardd's signed answers (protocol/PROTOCOL.md §4, §10, §11), for a
// hospital system to drop in: the same checks and messages as
// verifiers/python/cardd_verify.py.
//
//   import { verify, VerifyError } from 'cardd-verify'
//   const answer = await verify(bodyBytes, cardSignature, jwks)
//   answer.statement, answer.kind ('jws' | 'batch'), answer.alg, answer.kid
//
// - a detached JWS H..S (§4.1, sign_mode per-answer): EdDSA checked by
//   jose's flattenedVerify with the payload given beside it, the key by
//   jose's importJWK; SM2 (§11: SM3, user ID 1234567812345678, r || s) by
//   sm-crypto, since jose has no SM2;
// - a batch proof H..S~N~INDEX~PATH (§4.3, sign_mode batch): the RFC 9162
//   root rebuilt (SHA-256 for EdDSA, SM3 for SM2, node:crypto), then the
//   JWS over the root object;
// - over a statement, or the whole body of an HTTP batch (POST /v1/check)
//   or FHIR response, which is one payload (or one leaf).
//
// The bytes are verified exactly as received, then parsed, never
// re-serialised. Refused with a VerifyError saying why: an alg that does
// not fit its kid's key (alg confusion), an unknown kid, a JWS whose middle
// part is not empty, padded / standard / non-canonical base64url, crit, a
// path that does not fit N and INDEX, N < 2, signed bytes that are not an
// answer (a root object). { code } checks that an answer is about that
// electronic card code (§10). A genuine answer is not a valid card: read
// statement.result and statement.reason.
//
// JavaScript numbers hold integers up to 2^53 only; a statement's rev
// (below 10^19, §7) above that is given as a BigInt, read from the bytes.

import { createHash } from 'node:crypto'
import { flattenedVerify, importJWK, errors as joseErrors } from 'jose'
import smCrypto from 'sm-crypto'

const { sm2 } = smCrypto

export const USER_ID = '1234567812345678'
const B64URL = /^[A-Za-z0-9_-]*$/
const DECIMAL = /^(0|[1-9][0-9]{0,14})$/ // < 2^53
const ALGS = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519', hash: 'SHA-256' },
  SM2: { kty: 'EC', crv: 'SM2', hash: 'SM3' }
}
const FHIR_STATEMENT = 'urn:cardd:fhir:statement'
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// GM/T 0003.5 curve sm2p256v1, for checking a key is a point of it.
const P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFFn
const A = P - 3n
const B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93n

/** The answer is not a genuine cardd answer; the message says why. */
export class VerifyError extends Error {
  constructor (message) {
    super(message)
    this.name = 'VerifyError'
  }
}

function fail (message) {
  throw new VerifyError(message)
}

// ------------------------------------------------------------ encodings

function b64url (bytes) {
  return Buffer.from(bytes).toString('base64url')
}

// Strict unpadded base64url (RFC 7515 §2) -> Buffer.
function b64urlDecode (text, what) {
  if (typeof text !== 'string') fail(`${what} is not a string`)
  if (text.includes('=')) {
    fail(`${what} is padded base64url ('='): cardd's base64url is unpadded (RFC 7515 §2)`)
  }
  if (text.includes('+') || text.includes('/')) {
    fail(`${what} is standard base64 ('+' or '/'), not base64url`)
  }
  if (!B64URL.test(text) || text.length % 4 === 1) fail(`${what} is not base64url`)
  const buf = Buffer.from(text, 'base64url')
  if (buf.toString('base64url') !== text) {
    fail(`${what} is not canonical base64url (its last character has bits set that encode nothing)`)
  }
  return buf
}

function parseJson (bytes, what) {
  try {
    return JSON.parse(utf8.decode(bytes))
  } catch (e) {
    fail(`${what} is not UTF-8 JSON: ${e.message}`)
  }
}

function digest (name, ...parts) {
  const h = createHash(name === 'SM3' ? 'sm3' : 'sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

/** The `code` member of an answer to this card code (§10): base64url
 * (unpadded) of the SHA-256 of the code text as asked. */
export function codeHash (code) {
  return b64url(createHash('sha256').update(code).digest())
}

function isObject (v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

// ----------------------------------------------------------------- keys

function loadJwks (jwks) {
  if (jwks instanceof Uint8Array) jwks = parseJson(jwks, 'the JWKS')
  else if (typeof jwks === 'string') jwks = parseJson(Buffer.from(jwks, 'utf8'), 'the JWKS')
  if (!isObject(jwks) || !Array.isArray(jwks.keys)) {
    fail('the JWKS is not an object {"keys":[...]} (GET /v1/keys, RESP JWKS)')
  }
  return jwks.keys
}

const q = (v) => JSON.stringify(v === undefined ? null : v)

// The verifying key for a header's alg and kid; refuses a kid no key has,
// and an alg that does not fit the kid's key (alg confusion).
async function keyFor (keys, alg, kid) {
  const named = keys.filter((k) => isObject(k) && k.kid === kid)
  if (named.length === 0) {
    fail(`unknown kid ${q(kid)}: no key of the JWKS has it (a server that rotated its key publishes the new one at GET /v1/keys)`)
  }
  const { kty, crv } = ALGS[alg]
  const fit = named.filter((k) => k.kty === kty && k.crv === crv)
  if (fit.length === 0) {
    fail(`alg ${alg} does not fit the key ${q(kid)} (kty ${q(named[0].kty)}, crv ${q(named[0].crv)}): ${alg} needs kty ${kty}, crv ${crv}`)
  }
  if (fit.length > 1) fail(`the JWKS has ${fit.length} ${crv} keys with kid ${q(kid)}`)
  const jwk = fit[0]
  if ('alg' in jwk && jwk.alg !== alg) fail(`the key ${q(kid)} is for alg ${q(jwk.alg)}, not ${alg}`)
  if ('use' in jwk && jwk.use !== 'sig') fail(`the key ${q(kid)} is not for signatures (use ${q(jwk.use)})`)
  if ('key_ops' in jwk && (!Array.isArray(jwk.key_ops) || !jwk.key_ops.includes('verify'))) {
    fail(`the key ${q(kid)} may not verify (key_ops)`)
  }
  const x = b64urlDecode(jwk.x, "the key's x")
  if (x.length !== 32) fail(`the key ${q(kid)}: x is ${x.length} bytes, not 32`)
  if (alg === 'EdDSA') {
    let key
    try {
      key = await importJWK({ kty, crv, x: jwk.x }, 'EdDSA')
    } catch (e) {
      fail(`the key ${q(kid)} is not a usable Ed25519 key: ${e.message}`)
    }
    return { alg, key }
  }
  const y = b64urlDecode(jwk.y, "the key's y")
  if (y.length !== 32) fail(`the key ${q(kid)}: y is ${y.length} bytes, not 32`)
  const xi = BigInt('0x' + x.toString('hex'))
  const yi = BigInt('0x' + y.toString('hex'))
  if (xi >= P || yi >= P || (yi * yi - (xi * xi * xi + A * xi + B)) % P !== 0n) {
    fail(`the key ${q(kid)} is not a usable SM2 key: not a point of the SM2 curve`)
  }
  return { alg, pubHex: '04' + x.toString('hex') + y.toString('hex') }
}

// ------------------------------------------------------------------ JWS

// A detached JWS H..S over payload (§4.1, §11) -> { alg, kid }.
async function verifyJws (keys, jws, payload, what = 'the statement') {
  const parts = jws.split('.')
  if (parts.length !== 3) fail(`not a detached JWS (HEADER..SIGNATURE): ${parts.length - 1} dots`)
  const [hdrB64, middle, sigB64] = parts
  if (middle !== '') {
    fail("the JWS's middle (payload) part is not empty: cardd's JWS are detached (RFC 7515 appendix F)")
  }
  const hdr = parseJson(b64urlDecode(hdrB64, 'the JWS header'), 'the JWS header')
  if (!isObject(hdr)) fail('the JWS header is not a JSON object')
  const { alg, kid } = hdr
  if (!Object.prototype.hasOwnProperty.call(ALGS, alg)) {
    fail(`alg ${q(alg)} is not one cardd signs with (EdDSA, SM2)`)
  }
  if (typeof kid !== 'string') fail('the JWS header has no kid')
  for (const m of ['crit', 'b64']) {
    if (m in hdr) fail(`the JWS header has ${q(m)}, which cardd never sends`)
  }
  const sig = b64urlDecode(sigB64, 'the signature')
  if (sig.length !== 64) fail(`the signature is ${sig.length} bytes, not 64`)
  const k = await keyFor(keys, alg, kid)
  const mismatch = `the ${alg} signature over ${what} does not match`
  if (alg === 'EdDSA') {
    try {
      // The payload travels beside the JWS: jose gets it as the flattened
      // JWS's payload member, base64url of the bytes as received.
      await flattenedVerify({ protected: hdrB64, payload: b64url(payload), signature: sigB64 },
        k.key, { algorithms: ['EdDSA'] })
    } catch (e) {
      if (e instanceof joseErrors.JWSSignatureVerificationFailed) fail(mismatch)
      fail(`jose refused the JWS: ${e.message}`)
    }
  } else {
    const input = Buffer.from(hdrB64 + '.' + b64url(payload), 'ascii')
    const ok = sm2.doVerifySignature(Array.from(input), sig.toString('hex'), k.pubHex,
      { der: false, hash: true, userId: USER_ID })
    if (ok !== true) fail(mismatch)
  }
  return { alg, kid }
}

// --------------------------------------------------------------- Merkle

// Hashes in the RFC 9162 §2.1.3.1 path of leaf index in a tree of n.
function pathLen (index, n) {
  let k = 0
  while (n > 1) {
    let split = 1
    while (split * 2 < n) split *= 2 // largest 2^j < n
    if (index < split) n = split
    else { index -= split; n -= split }
    k++
  }
  return k
}

// RFC 9162 §2.1.3.2 without its final comparison; null on failure.
function rootOf (leaf, index, n, path, node) {
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

function rootObject (hash, n, root) {
  return Buffer.from('{"typ":"cardd-merkle","v":1,' + (hash === 'SM3' ? '"hash":"SM3",' : '') +
    '"n":' + n + ',"root":"' + b64url(root) + '"}', 'ascii')
}

// A batch proof H..S~N~INDEX~PATH (§4.3, §11).
async function verifyBatch (keys, statement, proof) {
  const parts = proof.split('~')
  if (parts.length !== 4) fail(`not a batch proof (H..S~N~INDEX~PATH): ${parts.length - 1} '~'`)
  const [jws, nText, indexText, pathB64] = parts
  for (const [name, text] of [['N', nText], ['INDEX', indexText]]) {
    if (!DECIMAL.test(text)) {
      fail(`the proof's ${name} ${q(text)} is not a decimal number (no sign, no leading zero)`)
    }
  }
  const n = Number(nText)
  const index = Number(indexText)
  if (n < 2) fail(`the proof's N is ${n}: a batch has at least 2 leaves (a lone answer gets a plain JWS)`)
  if (index >= n) fail(`the proof's INDEX ${index} is not below N ${n}`)
  const path = b64urlDecode(pathB64, "the proof's PATH")
  if (path.length % 32 !== 0) fail(`the proof's PATH is ${path.length} bytes, not a multiple of 32`)
  const hashes = []
  for (let i = 0; i < path.length; i += 32) hashes.push(path.subarray(i, i + 32))
  const want = pathLen(index, n)
  if (hashes.length !== want) {
    fail(`the proof's PATH has ${hashes.length} hashes; leaf ${index} of a tree of ${n} has ${want}`)
  }
  // The tree's hash follows the header's alg, whose key is checked below.
  const hdr = parseJson(b64urlDecode(jws.split('.')[0], 'the JWS header'), 'the JWS header')
  const alg = isObject(hdr) ? hdr.alg : undefined
  if (!Object.prototype.hasOwnProperty.call(ALGS, alg)) {
    fail(`alg ${q(alg)} is not one cardd signs with (EdDSA, SM2)`)
  }
  const hash = ALGS[alg].hash
  const leaf = digest(hash, Buffer.from([0]), statement)
  const root = rootOf(leaf, index, n, hashes, (l, r) => digest(hash, Buffer.from([1]), l, r))
  if (root === null) fail(`the proof's PATH fits no tree of ${n} leaves`)
  const obj = rootObject(hash, n, root)
  const { kid } = await verifyJws(keys, jws, obj,
    'the root object (the statement, N, INDEX or PATH is not the one signed)')
  return { kind: 'batch', alg, kid, hash, n, index, root: b64url(root), root_object: obj.toString('ascii') }
}

// ------------------------------------------------------------ documents

function isStatement (st) {
  return isObject(st) && st.v === 1 && typeof st.check === 'string'
}

// A rev past 2^53 is read from the bytes as a BigInt (JSON.parse rounds).
function exactRevs (text, statements) {
  if (statements.every((st) => typeof st.rev !== 'number' || Number.isSafeInteger(st.rev))) return
  const revs = [...text.matchAll(/"rev":([0-9]+)/g)].map((m) => m[1])
  if (revs.length !== statements.length) return
  statements.forEach((st, i) => { if (!Number.isSafeInteger(st.rev)) st.rev = BigInt(revs[i]) })
}

// What the signed bytes are: [document kind, parsed, statements].
function documentOf (bytes) {
  const doc = parseJson(bytes, 'the signed bytes')
  const text = Buffer.from(bytes).toString('utf8')
  if (!isObject(doc)) fail('the signed bytes are not a JSON object')
  if (doc.typ === 'cardd-merkle') {
    fail('the signed bytes are a root object, not an answer: a batch proof\'s JWS signs it, and it never stands for a statement')
  }
  if ('v' in doc || 'check' in doc) {
    if (!isStatement(doc)) fail('the signed bytes are not a statement of version 1')
    exactRevs(text, [doc])
    return ['statement', doc, [doc]]
  }
  const names = Object.keys(doc)
  if (names.length === 1 && names[0] === 'results' && Array.isArray(doc.results)) {
    doc.results.forEach((st, i) => { if (!isStatement(st)) fail(`results[${i}] is not a statement`) })
    exactRevs(text, doc.results)
    return ['http-batch', doc, doc.results]
  }
  if (doc.resourceType === 'CoverageEligibilityResponse') {
    const sts = []
    for (const e of Array.isArray(doc.extension) ? doc.extension : []) {
      if (isObject(e) && e.url === FHIR_STATEMENT) {
        const t = e.valueString
        const st = typeof t === 'string' ? parseJson(Buffer.from(t, 'utf8'), 'a FHIR statement') : null
        if (!isStatement(st)) fail('a FHIR statement extension holds no statement')
        exactRevs(t, [st])
        sts.push(st)
      }
    }
    return ['fhir', doc, sts]
  }
  fail('the signed bytes are not a cardd answer (a statement, a batch body or a FHIR response)')
}

/**
 * Verify one answer of cardd.
 *
 * @param {Uint8Array|ArrayBuffer} statementBytes the bytes exactly as
 *   received (the HTTP body, the RESP reply's first bulk string)
 * @param {string|Uint8Array} signature Card-Signature (the RESP reply's
 *   second element): a detached JWS or a batch proof
 * @param {object|string|Uint8Array} jwks the JWKS you trust
 * @param {{code?: string}} [options] code: the electronic card code asked
 *   with; then the answer must be about it
 * @returns {Promise<object>} { statement, statements, document, kind, alg,
 *   kid } and for a batch proof { hash, n, index, root, root_object }
 * @throws {VerifyError} when the answer is not genuine, saying why
 */
export async function verify (statementBytes, signature, jwks, options = {}) {
  if (statementBytes instanceof ArrayBuffer) statementBytes = new Uint8Array(statementBytes)
  if (!(statementBytes instanceof Uint8Array)) {
    fail(`the statement must be bytes exactly as received, not ${typeof statementBytes} (never decode and re-encode it)`)
  }
  const statement = Buffer.from(statementBytes.buffer, statementBytes.byteOffset, statementBytes.byteLength)
  if (signature instanceof Uint8Array) {
    if (signature.some((b) => b > 0x7f)) fail('the signature is not ASCII')
    signature = Buffer.from(signature).toString('ascii')
  }
  if (typeof signature !== 'string') fail('the signature must be a string')
  if (signature === '' || signature !== signature.trim()) {
    fail('the signature is empty or has white space around it')
  }
  const keys = loadJwks(jwks)
  let out
  if (signature.includes('~')) {
    out = await verifyBatch(keys, statement, signature)
  } else {
    const { alg, kid } = await verifyJws(keys, signature, statement)
    out = { kind: 'jws', alg, kid }
  }
  // Genuine bytes; only now are they read.
  const [document, doc, sts] = documentOf(statement)
  sts.forEach((st, i) => {
    if (st.kid !== out.kid) fail(`statement ${i} names kid ${q(st.kid)} but kid ${q(out.kid)} signed it`)
  })
  if (options.code !== undefined && options.code !== null) {
    const want = codeHash(options.code)
    if (!sts.some((st) => st.code === want)) {
      fail(`the answer is not about this card code (its code member is not ${want})`)
    }
  }
  return { ...out, statement: doc, statements: sts, document }
}

/** The verdict in words, as both CLIs print it. */
export function describe (v) {
  const how = v.kind === 'batch'
    ? `batch proof (${v.hash} tree of ${v.n}, leaf ${v.index})`
    : 'detached JWS'
  const lines = [`genuine: ${how}, alg ${v.alg}, kid ${v.kid}`]
  for (const st of v.statements) {
    const who = st.card || st.permit || st.code || '?'
    lines.push(`  ${st.check} ${who}: ${st.result} (${st.reason}), at ${st.at}`)
  }
  return lines.join('\n')
}
