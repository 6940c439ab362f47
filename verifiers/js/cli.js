#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// node cli.js --jwks keys.json [--code CODE] STATEMENT_FILE SIGNATURE
// Verifies one cardd answer (the bytes of STATEMENT_FILE exactly as
// received, - for standard input) against the JWKS; prints the verdict.
// Exit 0: genuine; 1: not; 2: bad arguments. As cardd_verify.py's CLI.

import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { verify, describe, VerifyError } from './index.js'

const USAGE = 'usage: cli.js --jwks JWKS_FILE [--code CODE] STATEMENT_FILE SIGNATURE'

async function main () {
  let args
  try {
    args = parseArgs({
      options: { jwks: { type: 'string' }, code: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true
    })
  } catch (e) {
    process.stderr.write(`${USAGE}\n${e.message}\n`)
    return 2
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\nVerify a cardd answer against a JWKS. Exit 0: genuine; 1: not.\n`)
    return 0
  }
  if (!args.values.jwks || args.positionals.length !== 2) {
    process.stderr.write(`${USAGE}\n`)
    return 2
  }
  const [file, signature] = args.positionals
  let jwks, data
  try {
    jwks = readFileSync(args.values.jwks)
    data = readFileSync(file === '-' ? 0 : file)
  } catch (e) {
    process.stderr.write(`not verified: ${e.message}\n`)
    return 1
  }
  try {
    const v = await verify(data, signature, jwks, { code: args.values.code })
    process.stdout.write(describe(v) + '\n')
    return 0
  } catch (e) {
    if (!(e instanceof VerifyError)) throw e
    const hint = data.length && data[data.length - 1] === 0x0a
      ? ' (the file ends with a newline, which no answer has: keep the bytes exactly as received)'
      : ''
    process.stderr.write(`NOT GENUINE: ${e.message}${hint}\n`)
    return 1
  }
}

process.exitCode = await main()
