// The demo course in a real browser (headless Chromium), against a real
// server: the page loads, output streams in while a program runs, stdin
// reaches a program, Stop ends a runaway loop, a compile error is marked on
// its line, and the editor works from the keyboard. Screenshots of each go
// to target/coderun-tests/screenshots/.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { startServer } from "../test/server.js";
import { launch, openPage, screenshot } from "./browser.js";

/** @type {import("../test/server.js").RunningServer} */
let server;
/** @type {Awaited<ReturnType<typeof launch>>} */
let browser;

before(async () => {
  server = await startServer({ name: "e2e-course" });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens the course and waits until the snippets are connected. */
async function openCourse() {
  const { page, errors } = await openPage(browser.context);
  await page.goto(server.url);
  await page.locator("#server[data-state='open']").waitFor({ timeout: 15000 });
  return { page, errors };
}

/**
 * A snippet of the course by its file name, and its parts.
 * @param {import("playwright-core").Page} page
 * @param {string} filename
 */
function snippet(page, filename) {
  const root = page.locator(`coderun-snippet[filename="${filename}"]`);
  return {
    root,
    run: root.locator("button.run"),
    stop: root.locator("button.stop"),
    reset: root.locator("button.reset"),
    editor: root.locator(".code > textarea"),
    output: root.locator(".output"),
    status: root.locator(".status-text"),
    stdin: root.locator(".stdin-row input"),
    problems: root.locator(".problems .problem"),
  };
}

describe("The demo course", () => {
  test("The lesson loads with every snippet ready and no errors, in light and dark", async () => {
    const { page, errors } = await openCourse();
    const count = await page.locator("coderun-snippet").count();
    assert.ok(count >= 5 && count <= 8, `${count} snippets`);
    assert.equal(await page.locator("pre > code.language-javascript").count(), 0, "the code block was upgraded");
    for (let i = 0; i < count; i++) {
      const label = await page.locator("coderun-snippet").nth(i).locator(".label").textContent();
      assert.ok(label?.trim(), `snippet ${i} has a language label`);
    }
    await screenshot(page, "course-light", true);
    await page.locator("#theme").click();
    await page.locator("#theme").click();
    assert.equal(await page.locator("coderun-snippet").first().getAttribute("theme"), "dark");
    await screenshot(page, "course-dark", true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("Output streams in before the program ends", async () => {
    const { page, errors } = await openCourse();
    const s = snippet(page, "countdown.py");
    await s.run.click();
    await s.output.getByText("5…").waitFor({ timeout: 15000 });
    const firstAt = Date.now();
    assert.match((await s.status.textContent()) ?? "", /running/);
    assert.doesNotMatch((await s.output.textContent()) ?? "", /Lift off/);
    await screenshot(s.root, "streaming-midway");
    await s.output.getByText("Lift off").waitFor({ timeout: 15000 });
    await page.waitForFunction(() => /exited 0/.test(document.querySelector('coderun-snippet[filename="countdown.py"]')?.shadowRoot?.querySelector(".status-text")?.textContent ?? ""));
    assert.ok(Date.now() - firstAt >= 2000, "the first line came well before the end");
    assert.match((await s.status.textContent()) ?? "", /^exited 0 in \d/);
    await screenshot(s.root, "streaming-done");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("Typing into stdin reaches the program, and the typed line shows in the output", async () => {
    const { page, errors } = await openCourse();
    const s = snippet(page, "greet.py");
    await s.run.click();
    await s.output.getByText("What is your name?").waitFor({ timeout: 15000 });
    await s.stdin.waitFor({ state: "visible" });
    // Focus moved from Run to the input line, so the student can just type.
    await page.keyboard.type("Ada");
    await page.keyboard.press("Enter");
    await s.output.getByText("Nice to meet you, Ada!").waitFor({ timeout: 15000 });
    await s.stdin.fill("1990");
    await s.stdin.press("Enter");
    await s.output.getByText("You will be 40 in 2030.").waitFor({ timeout: 15000 });
    await page.waitForFunction(() => /exited 0/.test(document.querySelector('coderun-snippet[filename="greet.py"]')?.shadowRoot?.querySelector(".status-text")?.textContent ?? ""));
    assert.equal(await s.root.locator(".output .stdin").first().textContent(), "Ada\n");
    assert.ok(await s.stdin.isHidden(), "the input line goes away with the program");
    await screenshot(s.root, "stdin");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("Stop ends a runaway loop at once", async () => {
    const { page, errors } = await openCourse();
    const s = snippet(page, "forever.py");
    await s.run.click();
    await s.output.getByText("still going").first().waitFor({ timeout: 15000 });
    assert.ok(await s.stop.isEnabled());
    const pressed = Date.now();
    await s.stop.click();
    await page.waitForFunction(() => /stopped/.test(document.querySelector('coderun-snippet[filename="forever.py"]')?.shadowRoot?.querySelector(".status-text")?.textContent ?? ""), null, { timeout: 4000 });
    assert.ok(Date.now() - pressed < 4000);
    assert.match((await s.status.textContent()) ?? "", /^stopped after/);
    assert.ok(await s.run.isEnabled(), "Run is back");
    assert.ok(await s.stop.isDisabled());
    await screenshot(s.root, "stopped");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("A runaway loop left alone ends at its time limit, and says so", async () => {
    const { page, errors } = await openCourse();
    const s = snippet(page, "forever.py");
    await s.run.click();
    await page.waitForFunction(() => /time limit/.test(document.querySelector('coderun-snippet[filename="forever.py"]')?.shadowRoot?.querySelector(".status-text")?.textContent ?? ""), null, { timeout: 15000 });
    assert.equal(await s.status.textContent(), "time limit 5 s exceeded");
    await screenshot(s.root, "time-limit");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("A compile error is marked on its line", async () => {
    const { page, errors } = await openCourse();
    const s = snippet(page, "average.c");
    await s.run.click();
    await page.waitForFunction(() => /build failed/.test(document.querySelector('coderun-snippet[filename="average.c"]')?.shadowRoot?.querySelector(".status-text")?.textContent ?? ""), null, { timeout: 30000 });
    assert.match((await s.output.textContent()) ?? "", /error: expected ‘;’/);
    await screenshot(s.root, "compile-error");
    // The compiler's diagnostic: listed, and marked on line 7 (gcc reports
    // the missing `;` at the end of `total += scores[i]`).
    await s.problems.first().waitFor({ timeout: 2000 });
    assert.match((await s.problems.first().textContent()) ?? "", /error.*line 7.*expected/);
    assert.equal(await s.root.locator(".gutter .diag-error").textContent(), "7");
    assert.equal(await s.root.locator(".backdrop .line").nth(6).getAttribute("class"), "line diag-error");
    assert.equal(await s.root.locator(".backdrop .squiggle-error").count() > 0, true);
    // Choosing the problem puts the caret on it.
    await s.problems.first().click();
    const caretLine = await s.editor.evaluate((t) => /** @type {HTMLTextAreaElement} */ (t).value.slice(0, /** @type {HTMLTextAreaElement} */ (t).selectionStart).split("\n").length);
    assert.equal(caretLine, 7);
    await screenshot(s.root, "compile-error-marked");
    // Fixing it builds and runs.
    await s.editor.press("End");
    await page.keyboard.type(";");
    await s.run.click();
    await page.waitForFunction(() => /exited 0/.test(document.querySelector('coderun-snippet[filename="average.c"]')?.shadowRoot?.querySelector(".status-text")?.textContent ?? ""), null, { timeout: 30000 });
    assert.match((await s.output.textContent()) ?? "", /Average: 79\.0/);
    assert.equal(await s.problems.count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("The JavaScript code block, upgraded, runs console.log and shows console.error in another colour", async () => {
    const { page, errors } = await openCourse();
    const s = snippet(page, "main.js");
    await s.run.click();
    await s.output.getByText("3. C has 1 letters").waitFor({ timeout: 15000 });
    const stderr = s.root.locator(".output .stderr");
    await stderr.waitFor();
    const colour = (/** @type {import("playwright-core").Locator} */ l) => l.evaluate((e) => getComputedStyle(e).color);
    assert.notEqual(await colour(stderr), await colour(s.root.locator(".output .stdout").first()));
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("Several snippets share one connection", async () => {
    const { page, errors } = await openPage(browser.context);
    /** @type {string[]} */
    const sockets = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    await page.goto(server.url);
    await page.locator("#server[data-state='open']").waitFor({ timeout: 15000 });
    const hello = snippet(page, "hello.py");
    const check = snippet(page, "check.py");
    await hello.run.click();
    await check.run.click();
    await hello.output.getByText("Hello, world!").waitFor({ timeout: 15000 });
    await check.output.getByText("sensor out of range").waitFor({ timeout: 15000 });
    await page.waitForFunction(() => /exited 2/.test(document.querySelector('coderun-snippet[filename="check.py"]')?.shadowRoot?.querySelector(".status-text")?.textContent ?? ""));
    assert.deepEqual(sockets, [`ws://${server.host}/rpc`]);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

test("A snippet waiting for a run slot shows its place in the queue, then runs", async () => {
  const busy = await startServer({ name: "e2e-queue", args: ["--run-slots", "1"] });
  const { page, errors } = await openPage(browser.context);
  try {
    await page.goto(busy.url);
    await page.locator("#server[data-state='open']").waitFor({ timeout: 15000 });
    const loop = snippet(page, "forever.py");
    const hello = snippet(page, "hello.py");
    await loop.run.click();
    await loop.output.getByText("still going").first().waitFor({ timeout: 15000 });
    await hello.run.click();
    await hello.status.getByText("queued #1").waitFor({ timeout: 10000 });
    await screenshot(hello.root, "queued");
    await loop.stop.click();
    await hello.output.getByText("Hello, world!").waitFor({ timeout: 15000 });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await busy.stop();
  }
});

describe("The editor", () => {
  test("Tab indents, Enter keeps the indentation, Escape then Tab leaves, and Ctrl+Enter runs", async () => {
    const { page, errors } = await openCourse();
    const s = snippet(page, "hello.py");
    await s.editor.click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("\nfor i in range(2):");
    await page.keyboard.press("Enter");
    await page.keyboard.type("print(i)");
    const code = await s.editor.inputValue();
    assert.ok(code.endsWith("\nfor i in range(2):\n    print(i)"), JSON.stringify(code));
    await page.keyboard.press("Home");
    await page.keyboard.press("Tab");
    assert.ok((await s.editor.inputValue()).endsWith("\n        print(i)"), "Tab indented");
    await page.keyboard.press("Shift+Tab");
    assert.ok((await s.editor.inputValue()).endsWith("\n    print(i)"), "Shift+Tab dedented");
    // Ctrl+Z undoes an indentation like any typing.
    await page.keyboard.press("Tab");
    await page.keyboard.press("Control+z");
    assert.ok((await s.editor.inputValue()).endsWith("\n    print(i)"), "undo");
    await page.keyboard.press("Control+Enter");
    await s.output.getByText("Python can do arithmetic too: 42").waitFor({ timeout: 15000 });
    await page.waitForFunction(() => /exited 0/.test(document.querySelector('coderun-snippet[filename="hello.py"]')?.shadowRoot?.querySelector(".status-text")?.textContent ?? ""));
    assert.match((await s.output.textContent()) ?? "", /42\n0\n1\n$/);
    // Escape, then Tab: focus leaves the editor instead of indenting.
    await s.editor.focus();
    const before = await s.editor.inputValue();
    await page.keyboard.press("Escape");
    await page.keyboard.press("Tab");
    assert.equal(await s.editor.inputValue(), before);
    assert.equal(await s.editor.evaluate((t) => t.getRootNode() instanceof ShadowRoot && /** @type {ShadowRoot} */ (t.getRootNode()).activeElement === t), false);
    // Reset puts back the original and clears the output.
    await s.reset.click();
    assert.equal(await s.editor.inputValue(), 'print("Hello, world!")\nprint("Python can do arithmetic too:", 6 * 7)');
    assert.ok(await s.root.locator(".console").isHidden());
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("It is labelled for screen readers: named controls, a live output log and a status", async () => {
    const { page } = await openCourse();
    const s = snippet(page, "hello.py");
    assert.equal(await s.editor.getAttribute("aria-label"), "Python code");
    assert.equal(await s.run.getAttribute("aria-keyshortcuts"), "Control+Enter");
    assert.equal(await s.output.getAttribute("aria-live"), "polite");
    assert.equal(await s.output.getAttribute("role"), "log");
    assert.equal(await s.status.getAttribute("role"), "status");
    const names = await s.root.locator("button").evaluateAll((buttons) => buttons.map((b) => b.textContent?.trim()));
    assert.ok(names.every(Boolean), "every button has a name");
    await page.close();
  });

  test("Diagnostics from a job/diagnostics notification are listed and marked on their lines", async () => {
    const { page, errors } = await openCourse();
    // A client that answers any run with the spec's example diagnostics:
    // the element's rendering, without depending on a compiler's parser.
    const marked = await page.evaluate(async () => {
      const { CoderunClient } = await import("/client/client.js");
      const { Job } = await import("/client/job.js");
      class Synthetic extends CoderunClient {
        /** @param {any} params */
        run(params) {
          const job = new Job(params, () => false);
          job._sent({ notify() {} }, "lesson-3/ex-2");
          setTimeout(() => {
            job._notify("job/status", { job: "lesson-3/ex-2", state: "building" });
            job._notify("job/diagnostics", {
              job: "lesson-3/ex-2",
              diagnostics: [
                { file: "main.c", range: { start: { line: 4, character: 40 }, end: { line: 4, character: 41 } }, severity: "error", message: "expected ‘;’ before ‘}’ token", source: "gcc" },
                { file: "util/greet.c", range: { start: { line: 2, character: 8 }, end: { line: 2, character: 14 } }, severity: "warning", message: "unused variable ‘unused’", code: "-Wunused-variable", source: "gcc" },
              ],
            });
            job._settle({ status: "buildFailed", exitCode: 1, signal: null, stages: [{ name: "build", status: "exited", exitCode: 1, signal: null, wallTimeMs: 212, cpuTimeMs: 148, memoryBytes: 1 }], outputTruncated: false, queuedMs: 0, wallTimeMs: 231 });
          }, 10);
          return job;
        }
      }
      const real = /** @type {any} */ (document.querySelector("coderun-snippet")).client;
      const fake = new Synthetic(location.origin, { lazy: true });
      Object.defineProperty(fake, "state", { value: "open" });
      fake.initializeResult = real.initializeResult;
      const element = /** @type {any} */ (document.createElement("coderun-snippet"));
      element.setAttribute("language", "c");
      element.setAttribute("filename", "main.c");
      element.id = "synthetic";
      element.code = '#include <stdio.h>\n#include "util/greet.h"\n\nint main(int argc, char **argv) {\n    greet(argc > 1 ? argv[1] : "world")\n    return 0;\n}';
      document.querySelector("main")?.append(element);
      element.client = fake;
      await element.run();
      await new Promise((r) => setTimeout(r, 100));
      const root = element.shadowRoot;
      return {
        status: root.querySelector(".status-text").textContent,
        problems: [...root.querySelectorAll(".problem")].map((p) => p.textContent),
        gutter: [...root.querySelectorAll(".gutter [class^='diag-']")].map((d) => [d.textContent, d.className, d.title]),
        line: root.querySelectorAll(".backdrop .line")[4].className,
        squiggle: root.querySelector(".backdrop .squiggle-error")?.textContent,
        label: root.querySelector("[id$='-problems-label']").textContent,
      };
    });
    assert.equal(marked.status, "build failed (exit code 1)");
    assert.deepEqual(marked.problems, ["errorline 5expected ‘;’ before ‘}’ tokengcc", "warningutil/greet.c:3unused variable ‘unused’gcc -Wunused-variable"]);
    assert.deepEqual(marked.gutter, [["5", "diag-error", "expected ‘;’ before ‘}’ token"]]);
    assert.equal(marked.line, "line diag-error");
    assert.equal(marked.squiggle, ")");
    assert.equal(marked.label, "1 error, 1 other problem");
    await screenshot(page.locator("#synthetic"), "diagnostics-synthetic");
    assert.deepEqual(errors, []);
    await page.close();
  });
});
