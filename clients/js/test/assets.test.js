// What the server serves of this package: the demo course at `/` and every
// module of src/ at /client/, byte for byte as they are on disk (so a stale
// binary fails here first: rebuild with cargo build -p coderun-server),
// with their content types, revalidation headers, and CORS for the modules
// that course pages on other sites load.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { REPO, startServer } from "./server.js";

/** @type {import("./server.js").RunningServer} */
let server;

before(async () => {
  server = await startServer({ name: "assets" });
});

after(async () => {
  await server?.stop();
});

const SRC = join(REPO, "clients/js/src");
const DEMO = join(REPO, "clients/js/demo");

test("Every client module is served at /client/ as JavaScript, as it is on disk", async () => {
  for (const name of readdirSync(SRC).filter((n) => n.endsWith(".js"))) {
    const response = await fetch(`${server.url}/client/${name}`);
    assert.equal(response.status, 200, name);
    assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8", name);
    assert.equal(await response.text(), readFileSync(join(SRC, name), "utf8"), `${name} differs from the binary's copy: rebuild the server`);
  }
});

test("The client modules may be loaded by pages of any origin", async () => {
  const response = await fetch(`${server.url}/client/snippet.js`, { headers: { origin: "https://course.example" } });
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
});

test("The course page and its files are served with their types", async () => {
  const expected = [
    ["/", "index.html", "text/html; charset=utf-8"],
    ["/course.css", "course.css", "text/css; charset=utf-8"],
    ["/course.js", "course.js", "text/javascript; charset=utf-8"],
    ["/favicon.svg", "favicon.svg", "image/svg+xml"],
  ];
  for (const [path, file, type] of expected) {
    const response = await fetch(`${server.url}${path}`);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), type, path);
    assert.equal(await response.text(), readFileSync(join(DEMO, file), "utf8"), path);
  }
  const page = await fetch(server.url);
  assert.equal(page.headers.get("access-control-allow-origin"), null, "the page itself is not for other origins");
});

test("Files are revalidated by ETag: a browser's copy gets 304 until the server changes", async () => {
  const first = await fetch(`${server.url}/client/coderun.js`);
  assert.equal(first.headers.get("cache-control"), "no-cache");
  const etag = first.headers.get("etag");
  assert.ok(etag && /^"[0-9a-f]{16}"$/.test(etag), String(etag));
  const again = await fetch(`${server.url}/client/coderun.js`, { headers: { "if-none-match": etag } });
  assert.equal(again.status, 304);
  const other = await fetch(`${server.url}/client/job.js`, { headers: { "if-none-match": etag } });
  assert.equal(other.status, 200);
});

test("A file that is not there is 404, and /rpc still has no CORS header", async () => {
  assert.equal((await fetch(`${server.url}/client/missing.js`)).status, 404);
  const rpc = await fetch(`${server.url}/rpc`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(rpc.headers.get("access-control-allow-origin"), null);
});
