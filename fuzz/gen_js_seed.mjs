// gen_js_seed.mjs — writes corpus/ipc_decode/js_writer.arrows with Apache
// Arrow's own JavaScript implementation, so the corpus holds a stream that
// our encoder did not write (dictionary batches, large_utf8, lists, nulls).
// Optional, needs node and the npm package apache-arrow:
//   npm install apache-arrow && node gen_js_seed.mjs corpus/ipc_decode/js_writer.arrows
import { tableToIPC, vectorFromArray, Table, Utf8, Dictionary, Int32, Field, List, Bool, Float64, LargeUtf8 } from 'apache-arrow';
import { writeFileSync } from 'fs';
const t = new Table({
  i: vectorFromArray([1, null, 3, 4, null, 6, 7], new Int32),
  s: vectorFromArray(['a', 'bb', null, 'dddd', '', 'ffffff', 'g'], new Utf8),
  d: vectorFromArray(['x', 'y', 'x', null, 'z', 'x', 'y'], new Dictionary(new Utf8, new Int32)),
  f: vectorFromArray([1.5, null, 2.5, 3.5, 4.5, null, 6.5], new Float64),
  b: vectorFromArray([true, false, null, true, true, false, null], new Bool),
  l: vectorFromArray([[1], [], null, [2, 3], [4], [5, 6, 7], []], new List(new Field('item', new Int32, true))),
  ls: vectorFromArray(['p', null, 'qq', 'r', 's', 't', 'u'], new LargeUtf8),
});
writeFileSync(process.argv[2], tableToIPC(t.concat(t), 'stream'));
