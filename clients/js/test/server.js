// A real `coderun serve` process for one test file, on a free loopback port.
//
// `startServer` writes the test's TOML (if any) to a file, starts the binary
// with `--listen 127.0.0.1:0` (or a given address, to restart a server on
// the port its clients know), and waits up to 30 s for the line it prints
// once it accepts: `coderun listening on http://ADDR`. The server's stderr
// goes to a log under target/coderun-tests/js-logs/, whose path a failing
// test prints. The binary is $CODERUN_BIN, or target/debug/coderun.

import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const BINARY = process.env.CODERUN_BIN ?? join(REPO, "target/debug/coderun");
export const ARTIFACTS = join(REPO, "target/coderun-tests");
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

let serial = 0;

/**
 * @typedef {object} ServerOptions
 * @property {string[]} [args] extra flags for `coderun serve`
 * @property {string} [config] TOML for settings that have no flag
 * @property {string} [listen] the address to listen on (127.0.0.1:0)
 * @property {string} [name] names the log file
 */

/**
 * @typedef {object} RunningServer
 * @property {string} url e.g. http://127.0.0.1:40123
 * @property {string} host e.g. 127.0.0.1:40123
 * @property {number} port
 * @property {string} logPath
 * @property {import("node:child_process").ChildProcess} child
 * @property {(signal?: NodeJS.Signals) => Promise<number | null>} stop
 *   sends the signal (SIGTERM) and waits for the exit, killing after 15 s
 * @property {() => string} log the server's stderr so far
 */

/**
 * @param {ServerOptions} [options]
 * @returns {Promise<RunningServer>}
 */
export async function startServer(options = {}) {
  const logs = join(ARTIFACTS, "js-logs");
  mkdirSync(logs, { recursive: true });
  const name = `${options.name ?? "server"}-${process.pid}-${++serial}`;
  const logPath = join(logs, `${name}.log`);
  const args = ["serve", "--listen", options.listen ?? "127.0.0.1:0", ...(options.args ?? [])];
  if (options.config) {
    const configPath = join(logs, `${name}.toml`);
    writeFileSync(configPath, options.config);
    args.push("--config", configPath);
  }
  const child = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "info" } });
  const log = createWriteStream(logPath);
  child.stderr.pipe(log);
  const exited = new Promise((done) => child.once("exit", (code) => done(code)));

  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`coderun did not start within ${START_TIMEOUT_MS} ms; log: ${logPath}`)), START_TIMEOUT_MS);
    let buffered = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const match = /coderun listening on (http:\/\/\S+)/.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${BINARY}: ${error.message} (build it: cargo build -p coderun-server --bin coderun)`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`coderun exited with ${code} before listening; log: ${logPath}`));
    });
  });
  const host = new URL(url).host;
  return {
    url,
    host,
    port: Number(new URL(url).port),
    logPath,
    child,
    log: () => readFileSync(logPath, "utf8"),
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      const code = await exited;
      clearTimeout(timer);
      return /** @type {number | null} */ (code);
    },
  };
}

/**
 * A Python program's run params.
 * @param {string} code
 * @param {Partial<import("../src/protocol.js").RunParams>} [extra]
 * @returns {import("../src/protocol.js").RunParams}
 */
export function python(code, extra = {}) {
  return { language: "python", files: [{ path: "main.py", content: code }], ...extra };
}

/**
 * A C program's run params.
 * @param {string} code
 * @param {Partial<import("../src/protocol.js").RunParams>} [extra]
 * @returns {import("../src/protocol.js").RunParams}
 */
export function c(code, extra = {}) {
  return { language: "c", files: [{ path: "main.c", content: code }], ...extra };
}

/**
 * Resolves when `predicate` holds, polling every 20 ms; rejects after `ms`.
 * @param {() => boolean} predicate
 * @param {number} [ms]
 * @param {string} [what]
 */
export async function until(predicate, ms = 20_000, what = "condition") {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
