// compare.mjs — reads a tarn table as Iceberg with readers no one here
// wrote, and compares every row with `tarn query` at the same ref.
//
//   node compare.mjs --tarn BIN --table NS.T --ref REF
//        (--metadata LOCATION | --rest URL [--warehouse W] [--token T])
//
// --rest loads the table through the REST catalog with iceberg-js (from
// URL, with the warehouse's prefix when given) and checks the catalog's
// namespace and table lists; --metadata starts from a metadata.json
// location (file:// or http://). Either way icebird reads the metadata, the
// Avro manifest list and manifests and the Parquet files the metadata
// names (over HTTP from the server, bearer token sent; file:// from disk).
// Values are compared in the form icebird gives them: where its Parquet
// decoder narrows a value (timestamps to milliseconds, decimals to
// doubles), tarn's exact value is narrowed the same way first.
// Prints {"rows", "columns", "snapshot_id", "metadata_location"}; exits 1
// on the first difference.
import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

// The pinned packages scripts/setup.sh installs (ICEBERG_NODE names
// another folder holding them).
const deps = process.env.ICEBERG_NODE || new URL('../../.deps/iceberg-node', import.meta.url).pathname
const load = (rel) => import(pathToFileURL(`${deps}/node_modules/${rel}`).href)
const { icebergRead } = await load('icebird/src/index.js')
const { IcebergRestCatalog } = await load('iceberg-js/dist/index.mjs')

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1]
const fail = (msg) => {
  console.error(`compare: ${msg}`)
  process.exit(1)
}

// fetch as icebird uses it: file:// from disk (with ranges), and the
// server's bearer token on every request to the server (icebird does not
// pass its requestInit to manifest reads).
const realFetch = globalThis.fetch
const serverOrigin = args.rest ? new URL(args.rest).origin : null
let fetches = 0
globalThis.fetch = async (url, init = {}) => {
  url = String(url)
  fetches++
  const headers = new Headers(init.headers)
  if (url.startsWith('file://')) {
    let data
    try {
      data = await readFile(decodeURIComponent(new URL(url).pathname))
    } catch {
      return new Response('not found', { status: 404 })
    }
    const range = headers.get('Range')
    if (range) {
      const m = /bytes=(\d+)-(\d*)/.exec(range)
      const start = Number(m[1])
      const end = m[2] ? Number(m[2]) + 1 : data.length
      return new Response(data.subarray(start, end), { status: 206 })
    }
    return new Response(data, { status: 200 })
  }
  if (args.token && serverOrigin && new URL(url).origin === serverOrigin) headers.set('Authorization', `Bearer ${args.token}`)
  return realFetch(url, { ...init, headers })
}

const [ns, name] = args.table.includes('.') ? args.table.split('.') : ['default', args.table]
let metadata, location
if (args.rest) {
  const catalog = new IcebergRestCatalog({
    baseUrl: args.rest,
    ...(args.warehouse ? { warehouse: args.warehouse } : {}),
    ...(args.token ? { auth: { type: 'bearer', token: args.token } } : {}),
  })
  const { namespaces } = await catalog.listNamespaces()
  // iceberg-js gives each as {namespace: [levels]}
  if (!namespaces.some((n) => n.namespace.length === 1 && n.namespace[0] === ns)) fail(`namespace ${ns} not listed: ${JSON.stringify(namespaces)}`)
  const { identifiers } = await catalog.listTables({ namespace: [ns] })
  if (!identifiers.some((t) => t.name === name)) fail(`table ${name} not listed: ${JSON.stringify(identifiers)}`)
  const result = await catalog.loadTableResult({ namespace: [ns], name })
  metadata = result.metadata
  location = result['metadata-location']
  // The stored file is what the catalog answered with.
  const stored = await (await globalThis.fetch(location)).json()
  if (JSON.stringify(stored) !== JSON.stringify(metadata)) fail('metadata-location holds other metadata than LoadTable returned')
} else {
  location = args.metadata
  const res = await globalThis.fetch(location)
  if (!res.ok) fail(`cannot fetch ${location}: ${res.status}`)
  metadata = await res.json()
}

if (metadata['format-version'] !== 2) fail(`format-version ${metadata['format-version']}`)
const snapshotId = metadata['current-snapshot-id']
if (snapshotId !== -1 && !Number.isSafeInteger(snapshotId)) fail(`snapshot id ${snapshotId} is not exact in JavaScript`)
if (snapshotId !== -1 && JSON.stringify(Object.keys(metadata.refs)) !== '["main"]') fail(`refs ${JSON.stringify(metadata.refs)}`)
const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id'])
const fields = schema.fields

const rows = snapshotId === -1 ? [] : await icebergRead({ tableUrl: metadata.location, metadata })

// ---- canonical values ----------------------------------------------------------
const ident = (n) => '"' + n.replaceAll('"', '""') + '"'
function tarnExpr(f) {
  const c = ident(f.name)
  const t = typeof f.type === 'string' ? f.type : f.type.type
  if (t === 'int' || t === 'long' || t === 'time') return t === 'time' ? `CAST(((EXTRACT(hour FROM ${c}) * 3600 + EXTRACT(minute FROM ${c}) * 60) * 1000000 + EXTRACT(microsecond FROM ${c})) AS VARCHAR)` : `CAST(${c} AS VARCHAR)`
  if (t === 'float' || t === 'double') return `CAST(${c} AS DOUBLE)`
  if (t.startsWith('decimal')) return `CAST(${c} AS VARCHAR)`
  if (t === 'binary') return `hex(${c})`
  if (t === 'date') return `CAST(${c} - DATE '1970-01-01' AS VARCHAR)`
  if (t === 'timestamp' || t === 'timestamptz') return `CAST(epoch_us(${c}) AS VARCHAR)`
  if (t === 'uuid') return `CAST(${c} AS VARCHAR)`
  if (t === 'struct' || t === 'list' || t === 'map') return `CAST(to_json(${c}) AS VARCHAR)`
  return c // string, boolean
}

// A nested value as plain JSON (icebird: BigInt for 64-bit, objects for
// structs and maps; tarn: to_json).
function plain(v) {
  if (v === null || v === undefined) return null
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  if (v instanceof Date) return v.toISOString()
  if (Array.isArray(v)) return v.map(plain)
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, plain(x)]))
  return v
}

function fromTarn(f, v, tarnType) {
  if (v === null) return null
  // A JSON column is a string to Iceberg; icebird parses it (Parquet's JSON annotation).
  if (tarnType === 'JSON') return plain(JSON.parse(v))
  const t = typeof f.type === 'string' ? f.type : f.type.type
  if (t.startsWith('decimal')) {
    // icebird: Number(unscaled) * 10 ** -scale
    const scale = Number(/,\s*(\d+)/.exec(t)[1])
    const [i, d = ''] = v.replace('-', '').split('.')
    const unscaled = BigInt(i + d.padEnd(scale, '0')) * (v.startsWith('-') ? -1n : 1n)
    return Number(unscaled) * 10 ** -scale
  }
  if (t === 'binary') return new TextDecoder().decode(Uint8Array.from(v.match(/../g) || [], (h) => parseInt(h, 16)))
  if (t === 'timestamp' || t === 'timestamptz') return Number(BigInt(v) / 1000n) // milliseconds, truncated
  if (t === 'struct' || t === 'list' || t === 'map') return plain(JSON.parse(v))
  return v
}

function fromIcebird(f, v) {
  if (v === null || v === undefined) return null
  const t = typeof f.type === 'string' ? f.type : f.type.type
  if (t === 'int' || t === 'long' || t === 'time') return String(v)
  if (t === 'date') return String(Math.round(v.getTime() / 86400000))
  if (t === 'timestamp' || t === 'timestamptz') return v.getTime()
  if (t === 'uuid') {
    const h = Array.from(v, (b) => b.toString(16).padStart(2, '0')).join('')
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
  }
  if (t === 'struct' || t === 'list' || t === 'map' || (t === 'string' && typeof v === 'object')) return plain(v)
  return v
}

const sql = `SELECT ${fields.map(tarnExpr).join(', ')} FROM ${ident(ns)}.${ident(name)}`
const out = execFileSync(args.tarn, ['-O', 'json', 'query', sql, '--ref', args.ref, '--all-rows'], { maxBuffer: 1 << 30 })
const described = JSON.parse(execFileSync(args.tarn, ['-O', 'json', 'table', 'get', `${ns}.${name}`, '--ref', args.ref]))
const tarnTypes = Object.fromEntries(described.columns.map((c) => [c.name, c.type]))
const tarnRows = JSON.parse(out).rows.map((r) => JSON.stringify(fields.map((f, i) => fromTarn(f, r[i], tarnTypes[f.name]))))
const icebirdRows = rows.map((r) => JSON.stringify(fields.map((f) => fromIcebird(f, r[f.name]))))
tarnRows.sort()
icebirdRows.sort()
if (tarnRows.length !== icebirdRows.length) fail(`icebird read ${icebirdRows.length} rows, tarn query ${tarnRows.length}`)
for (let i = 0; i < tarnRows.length; i++)
  if (tarnRows[i] !== icebirdRows[i]) fail(`row differs:\n  tarn:    ${tarnRows[i]}\n  icebird: ${icebirdRows[i]}`)
console.log(JSON.stringify({ rows: tarnRows.length, columns: fields.map((f) => f.name), snapshot_id: snapshotId, metadata_location: location, fetches }))
