// Embedding on another site: a course page served from another origin
// loads the snippet from the coderun server with one script tag (module
// scripts are fetched with CORS, so the server's /client/ files allow any
// origin) and runs code when the server lists that origin with
// --allowed-origin; without it, the server refuses the WebSocket (spec §3.1)
// and the snippet says it cannot reach the server.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import { startServer } from "../test/server.js";
import { launch, openPage, screenshot } from "./browser.js";

/** @type {import("node:http").Server} */
let site;
let siteOrigin = "";
/** @type {Map<string, string>} */
const pages = new Map();
/** @type {Awaited<ReturnType<typeof launch>>} */
let browser;

before(async () => {
  // A course site of its own, on another port: another origin.
  site = createServer((request, response) => {
    const body = pages.get(request.url ?? "");
    response.writeHead(body ? 200 : 404, { "content-type": "text/html; charset=utf-8" });
    response.end(body ?? "not found");
  });
  await new Promise((resolve) => site.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = /** @type {import("node:net").AddressInfo} */ (site.address());
  siteOrigin = `http://127.0.0.1:${address.port}`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
});

/**
 * A lesson page of the course site whose snippets use `server`.
 * @param {string} path
 * @param {string} server e.g. http://127.0.0.1:40123
 */
function lesson(path, server) {
  pages.set(
    path,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Lesson</title><link rel="icon" href="data:,">
<script type="module" src="${server}/client/snippet.js"></script>
<script type="module" src="${server}/client/upgrade.js"></script></head>
<body><h1>Embedded</h1>
<coderun-snippet language="python">print("hello from", "another site")</coderun-snippet>
<pre><code class="language-py">print(sum(range(10)))</code></pre>
</body></html>`,
  );
  return `${siteOrigin}${path}`;
}

test("A page on an allowed origin runs snippets with one script tag", async () => {
  const server = await startServer({ name: "e2e-embed", args: ["--allowed-origin", siteOrigin] });
  const { page, errors } = await openPage(browser.context);
  try {
    await page.goto(lesson("/allowed", server.url));
    const element = page.locator("coderun-snippet").first();
    await element.locator("button.run").click();
    await element.locator(".output").getByText("hello from another site").waitFor({ timeout: 15000 });
    const upgraded = page.locator("coderun-snippet").nth(1);
    assert.equal(await upgraded.getAttribute("language"), "python");
    await upgraded.locator("button.run").click();
    await upgraded.locator(".output").getByText("45").waitFor({ timeout: 15000 });
    await screenshot(page, "embedded-other-origin");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await server.stop();
  }
});

test("A page on an origin the server does not allow cannot connect, and the snippet says so", async () => {
  const server = await startServer({ name: "e2e-embed-refused" });
  const { page } = await openPage(browser.context);
  try {
    await page.goto(lesson("/refused", server.url));
    const element = page.locator("coderun-snippet").first();
    await element.locator(".conn[data-state='retrying']").waitFor({ timeout: 15000 });
    await element.locator("button.run").click();
    await element.locator(".status-text").getByText("cannot reach the server").waitFor({ timeout: 15000 });
    assert.match(server.log(), /refused a WebSocket from a foreign origin/);
    // Stop gives up waiting.
    await element.locator("button.stop").click();
    assert.equal(await element.locator(".status-text").textContent(), "stopped before it started");
  } finally {
    await page.close();
    await server.stop();
  }
});
