// Headless Chromium for the browser suites: Debian's /usr/bin/chromium
// (or $CHROMIUM) driven by playwright-core, with a fresh profile per run and
// the flags that keep it off the network and out of the sandbox it cannot
// have in a container. Screenshots go to target/coderun-tests/screenshots/.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

import { ARTIFACTS } from "../test/server.js";

export const SCREENSHOTS = join(ARTIFACTS, "screenshots");
const EXECUTABLE = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * A browser context with a fresh profile; `close()` removes the profile.
 * @param {{colorScheme?: "light" | "dark", width?: number, height?: number}} [options]
 */
export async function launch(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), "coderun-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: EXECUTABLE,
    headless: true,
    args: ARGS,
    colorScheme: options.colorScheme ?? "light",
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    deviceScaleFactor: 1,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A new page that fails the test on any uncaught page error: the returned
 * `errors` array collects them, and console errors, for the test to check.
 * @param {import("playwright-core").BrowserContext} context
 */
export async function openPage(context) {
  const page = await context.newPage();
  /** @type {string[]} */
  const errors = [];
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console error: ${message.text()}`);
  });
  return { page, errors };
}

/**
 * Saves a screenshot of the page, or of one element, as NAME.png.
 * @param {import("playwright-core").Page | import("playwright-core").Locator} target
 * @param {string} name
 * @param {boolean} [fullPage]
 */
export async function screenshot(target, name, fullPage = false) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  if ("goto" in target) await target.screenshot({ path, fullPage });
  else await target.screenshot({ path });
  return path;
}
