// create.mjs DIR — icebird (a writer no one here wrote) creates an empty
// Iceberg table at DIR with a schema of plain and nested columns; prints
// the metadata.json location.
import { pathToFileURL } from 'node:url'
import { mkdirSync } from 'node:fs'

const deps = process.env.ICEBERG_NODE || new URL('../../.deps/iceberg-node', import.meta.url).pathname
const load = (rel) => import(pathToFileURL(`${deps}/node_modules/${rel}`).href)
const { icebergCreate } = await load('icebird/src/index.js')
const { fileWriter } = await load('hyparquet-writer/src/node.js')

const dir = process.argv[2]
mkdirSync(`${dir}/metadata`, { recursive: true })
await icebergCreate({
  tableUrl: dir,
  writerFactory: (path) => fileWriter(path),
  schema: {
    type: 'struct',
    'schema-id': 0,
    fields: [
      { id: 1, name: 'id', required: true, type: 'long' },
      { id: 2, name: 'label', required: false, type: 'string' },
      { id: 3, name: 'price', required: false, type: 'decimal(10,2)' },
      { id: 4, name: 'tags', required: false, type: { type: 'list', 'element-id': 7, element: 'string', 'element-required': false } },
      { id: 5, name: 'pos', required: false, type: { type: 'struct', fields: [{ id: 8, name: 'x', required: false, type: 'double' }] } },
      { id: 6, name: 'attrs', required: false, type: { type: 'map', 'key-id': 9, key: 'string', 'value-id': 10, value: 'int', 'value-required': false } },
    ],
  },
})
console.log(`file://${dir}/metadata/v1.metadata.json`)
