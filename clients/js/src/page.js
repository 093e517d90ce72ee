// What the snippets of one page share: one client per server and token
// (so twenty snippets hold one WebSocket), the server they use when they
// name none, the vocabulary of their attributes and language names, and
// `upgradeCodeBlocks`, which turns a page's `<pre><code class="language-X">`
// blocks into snippets.

import { CoderunClient, rpcUrl } from "./client.js";
import { dedentBlock } from "./editing.js";

/** The limits a snippet's attributes can set, by attribute name. */
export const LIMIT_ATTRIBUTES = /** @type {const} */ ({
  "wall-time-ms": "wallTimeMs",
  "cpu-time-ms": "cpuTimeMs",
  "memory-bytes": "memoryBytes",
  processes: "processes",
  "output-bytes": "outputBytes",
  "file-size-bytes": "fileSizeBytes",
  "open-files": "openFiles",
});

/** Attributes `upgradeCodeBlocks` copies from a `<pre data-...>`. */
export const SNIPPET_ATTRIBUTES = ["server", "token", "filename", "args", "stdin", "interactive", "readonly", "theme", "label", ...Object.keys(LIMIT_ATTRIBUTES)];

/** Language names as code fences and highlighters write them. */
export const ALIASES = /** @type {Record<string, string>} */ ({
  py: "python",
  python3: "python",
  js: "javascript",
  node: "javascript",
  mjs: "javascript",
  ts: "typescript",
  "c++": "cpp",
  cc: "cpp",
  cxx: "cpp",
  sh: "bash",
  shell: "bash",
  rs: "rust",
  golang: "go",
  rb: "ruby",
});

/** Names for languages before the server has said them. */
export const LANGUAGE_NAMES = /** @type {Record<string, string>} */ ({
  python: "Python",
  javascript: "JavaScript",
  typescript: "TypeScript",
  c: "C",
  cpp: "C++",
  java: "Java",
  rust: "Rust",
  go: "Go",
  ruby: "Ruby",
  bash: "Bash",
});

/** @type {Map<string, CoderunClient>} */
const clients = new Map();

/**
 * The shared client for a server and token: one connection per page.
 * @param {string} server a server URL (`https://...`) or WebSocket URL
 * @param {string} [token]
 */
export function clientFor(server, token) {
  const url = rpcUrl(server);
  const key = `${url}\n${token ?? ""}`;
  let client = clients.get(key);
  if (!client) {
    client = new CoderunClient(url, { token, client: { name: "coderun-snippet" } });
    clients.set(key, client);
  }
  return client;
}

/** The server snippets use when they name none. */
export function defaultServer() {
  const meta = globalThis.document?.querySelector('meta[name="coderun-server"]')?.getAttribute("content");
  if (meta) return new URL(meta, document.baseURI).href;
  // This module is served at <server>/client/snippet.js.
  return new URL("..", import.meta.url).href;
}

/**
 * @typedef {object} UpgradeOptions
 * @property {string} [server] the server for every upgraded block
 * @property {string} [token]
 * @property {string} [selector] which code elements to upgrade
 *   (`pre > code[class*="language-"]`)
 * @property {Record<string, string>} [aliases] more `language-X` names, to ids
 */

/**
 * Turns every `<pre><code class="language-X">` under `root` into a
 * `<coderun-snippet>`, keeping its code. A `<pre>` with `data-coderun="off"`
 * is left alone; its `data-*` attributes named like a snippet's
 * (`data-wall-time-ms`, `data-filename`, ...) carry over.
 * @param {ParentNode} [root]
 * @param {UpgradeOptions} [options]
 * @returns {import("./snippet.js").CoderunSnippet[]}
 */
export function upgradeCodeBlocks(root = document, options = {}) {
  const aliases = { ...ALIASES, ...options.aliases };
  /** @type {import("./snippet.js").CoderunSnippet[]} */
  const snippets = [];
  for (const code of root.querySelectorAll(options.selector ?? 'pre > code[class*="language-"]')) {
    const pre = code.parentElement;
    if (!pre || pre.dataset.coderun === "off") continue;
    const match = /(?:^|\s)(?:language|lang)-(\S+)/.exec(code.className);
    if (!match) continue;
    const language = aliases[match[1].toLowerCase()] ?? match[1].toLowerCase();
    const snippet = /** @type {import("./snippet.js").CoderunSnippet} */ (document.createElement("coderun-snippet"));
    snippet.setAttribute("language", language);
    if (options.server) snippet.setAttribute("server", options.server);
    if (options.token) snippet.setAttribute("token", options.token);
    for (const name of SNIPPET_ATTRIBUTES) {
      const value = pre.getAttribute(`data-${name}`);
      if (value !== null) snippet.setAttribute(name, value);
    }
    snippet.code = dedentBlock(code.textContent ?? "");
    pre.replaceWith(snippet);
    snippets.push(snippet);
  }
  return snippets;
}
