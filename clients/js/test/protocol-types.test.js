// The client's protocol types cannot drift from the spec: each JSDoc
// typedef in src/protocol.js has the fields of its definition in
// spec/schema/protocol.schema.json (generated from the Rust types), the
// same ones optional, and each string union the schema's values; the
// error codes, methods, statuses and states match the schema's too.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { ErrorCode } from "../src/errors.js";
import { JOB_STATES, Method, PROTOCOL_VERSION, RUN_STATUSES } from "../src/protocol.js";
import { REPO } from "./server.js";

const schema = JSON.parse(readFileSync(join(REPO, "spec/schema/protocol.schema.json"), "utf8"));
const source = readFileSync(join(REPO, "clients/js/src/protocol.js"), "utf8");

/**
 * The typedefs of a JSDoc source: object typedefs with their properties
 * (name and whether optional), and union typedefs with their string values.
 * @param {string} text
 */
function typedefs(text) {
  /** @type {Map<string, {properties?: Map<string, boolean>, values?: string[]}>} */
  const types = new Map();
  for (const [, block] of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const head = /@typedef\s+\{([^}]*)\}\s+(\w+)/.exec(block);
    if (!head) continue;
    const [, type, name] = head;
    if (type.trim() === "object") {
      const properties = new Map();
      for (const [, , optional, prop] of block.matchAll(/@property\s+\{([^}]*)\}\s+(\[)?(\w+)/g)) properties.set(prop, optional === "[");
      types.set(name, { properties });
    } else if (/^'/.test(type.trim())) {
      types.set(name, { values: [...type.matchAll(/'([^']*)'/g)].map((m) => m[1]) });
    }
  }
  return types;
}

const mine = typedefs(source);

test("Every object type of the schema that a client sends or reads has a typedef with the same fields", () => {
  const skip = new Set(["Message", "Request", "Response", "Notification", "JsonRpcVersion", "RequestId"]);
  let checked = 0;
  for (const [name, def] of Object.entries(schema.$defs)) {
    if (skip.has(name) || !def.properties) continue;
    const typedef = mine.get(name);
    assert.ok(typedef?.properties, `protocol.js has no typedef for ${name}`);
    const required = new Set(def.required ?? []);
    const expected = Object.keys(def.properties).sort();
    assert.deepEqual([...typedef.properties.keys()].sort(), expected, `${name}: fields`);
    for (const field of expected) {
      assert.equal(typedef.properties.get(field), !required.has(field), `${name}.${field}: optional in one and not the other`);
    }
    checked++;
  }
  assert.ok(checked >= 20, `only ${checked} types checked`);
});

test("Every string enum of the schema has a typedef with the same values, in order", () => {
  for (const [name, def] of Object.entries(schema.$defs)) {
    const values = def.enum ?? def.oneOf?.map((/** @type {{const: string}} */ v) => v.const);
    if (!values || values.some((/** @type {unknown} */ v) => typeof v !== "string")) continue;
    assert.deepEqual(mine.get(name)?.values, values, `${name}: values`);
  }
});

test("The statuses and states the client knows are the schema's", () => {
  assert.deepEqual([...RUN_STATUSES], schema.$defs.RunStatus.oneOf.map((/** @type {{const: string}} */ v) => v.const));
  assert.deepEqual([...JOB_STATES], schema.$defs.JobState.oneOf.map((/** @type {{const: string}} */ v) => v.const));
});

test("The error codes are the schema's, by code and by name", () => {
  const expected = schema["x-errors"].map((/** @type {{code: number, name: string}} */ e) => [e.code, e.name.replace(/ (\w)/g, (/** @type {string} */ _, c) => c.toUpperCase()).replace(/^\w/, (c) => c.toUpperCase())]);
  assert.deepEqual(
    Object.entries(ErrorCode).map(([name, code]) => [code, name]),
    expected,
  );
});

test("The methods are the schema's", () => {
  assert.deepEqual(Object.values(Method).sort(), Object.keys(schema["x-methods"]).sort());
  assert.equal(PROTOCOL_VERSION, schema["x-protocolVersion"]);
});
