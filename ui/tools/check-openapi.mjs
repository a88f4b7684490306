// Validates an OpenAPI document (the output of `kade openapi`) against the OpenAPI 3.1
// JSON Schema, and checks that every operation id is unique.
// Usage: node tools/check-openapi.mjs FILE
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: node tools/check-openapi.mjs FILE");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, "utf8"));
const validator = new Validator();
const result = await validator.validate(doc);
if (!result.valid) {
  console.error(JSON.stringify(result.errors, null, 2).slice(0, 20000));
  process.exit(1);
}
const ids = new Set();
let operations = 0;
for (const [path, item] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(item)) {
    operations++;
    if (ids.has(op.operationId)) {
      console.error(`duplicate operationId ${op.operationId} (${method} ${path})`);
      process.exit(1);
    }
    ids.add(op.operationId);
  }
}
console.log(`openapi: ${file} is a valid OpenAPI ${validator.version} document ` +
            `(${Object.keys(doc.paths).length} paths, ${operations} operations)`);
