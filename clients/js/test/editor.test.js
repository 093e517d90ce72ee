// The snippet's editor without a browser: colouring, diagnostics marked on
// their lines (from the spec's own job/diagnostics example, as a synthetic
// notification), and the keys' text edits (Tab, Shift+Tab, Enter,
// Backspace). The browser suite checks the same in the real element.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { backspace, dedent, dedentBlock, indent, indentUnit, newline } from "../src/editing.js";
import { lineMarks, renderCode, tokenize } from "../src/highlight.js";
import { Job } from "../src/job.js";
import { REPO } from "./server.js";

const notification = JSON.parse(readFileSync(join(REPO, "spec/examples/job-diagnostics.json"), "utf8"));
/** The program the spec's example is about: line 5 misses its `;` at character 40. */
const GREET = '#include <stdio.h>\n#include "util/greet.h"\n\nint main(int argc, char **argv) {\n    greet(argc > 1 ? argv[1] : "world")\n    return 0;\n}\n';

/** @param {string} html the text of some HTML, tags removed and entities decoded */
const text = (html) => html.replace(/<[^>]*>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");

test("A job/diagnostics notification adds to the job's diagnostics, in order", () => {
  const job = new Job({ language: "c", files: [] }, () => false);
  job._sent({ notify() {} }, notification.params.job);
  job._notify(notification.method, notification.params);
  job._notify(notification.method, { job: notification.params.job, diagnostics: [{ ...notification.params.diagnostics[0], severity: "warning" }] });
  assert.equal(job.diagnostics.length, 2);
  assert.deepEqual(job.diagnostics[0], notification.params.diagnostics[0]);
  assert.deepEqual(job.events.map((e) => e.type), ["diagnostics", "diagnostics"]);
});

test("A diagnostic marks its line and underlines its range", () => {
  const html = renderCode(GREET, "c", notification.params.diagnostics);
  const lines = html.split("</div>").filter(Boolean);
  assert.equal(lines.length, GREET.split("\n").length);
  assert.match(lines[4], /^<div class="line diag-error">/);
  for (const [i, line] of lines.entries()) if (i !== 4) assert.doesNotMatch(line, /diag-/);
  const squiggles = [...lines[4].matchAll(/<span class="[^"]*squiggle squiggle-error[^"]*">([^<]*)<\/span>/g)].map((m) => m[1]);
  assert.deepEqual(squiggles, [")"], "character 40 of line 5 is the closing parenthesis");
  // Marking never changes the text.
  assert.equal(lines.map((line) => text(line).replace(/\u200b/g, "")).join("\n"), GREET);
});

test("A point range is widened to one character, and one past the line's end marks its last", () => {
  const code = "x = 1\ny = (\n";
  const at = (/** @type {number} */ line, /** @type {number} */ character) => ({ line, character });
  const point = /** @type {const} */ ({ file: "m.py", severity: "error", message: "m" });
  const marks = lineMarks(code, [
    { ...point, range: { start: at(0, 2), end: at(0, 2) } },
    { ...point, severity: "warning", range: { start: at(1, 99), end: at(1, 99) } },
  ]);
  assert.deepEqual(marks.get(0)?.spans, [{ from: 2, to: 3, severity: "error" }]);
  assert.deepEqual(marks.get(1)?.spans, [{ from: 4, to: 5, severity: "warning" }]);
});

test("A range over several lines marks each of them; the worst severity colours a line", () => {
  const code = "a\nbb\nccc\n";
  const marks = lineMarks(code, [
    { file: "f", severity: "warning", message: "w", range: { start: { line: 0, character: 0 }, end: { line: 2, character: 1 } } },
    { file: "f", severity: "error", message: "e", range: { start: { line: 1, character: 0 }, end: { line: 1, character: 1 } } },
  ]);
  assert.deepEqual([...marks.keys()], [0, 1, 2]);
  assert.equal(marks.get(1)?.severity, "error");
  assert.equal(marks.get(0)?.severity, "warning");
  assert.deepEqual(marks.get(0)?.messages, ["w"]);
  assert.deepEqual(marks.get(1)?.messages, ["e"]);
});

test("Diagnostics of lines past the end are kept on the last line", () => {
  const marks = lineMarks("one line", [{ file: "f", severity: "error", message: "e", range: { start: { line: 9, character: 0 }, end: { line: 9, character: 1 } } }]);
  assert.deepEqual([...marks.keys()], [0]);
});

test("Code is coloured by kind, and the tokens give back the code exactly", () => {
  const python = "def f(x):\n    # twice\n    return f'{x}' * 2  # done\n";
  const tokens = tokenize(python, "python");
  assert.equal(tokens.map((t) => t.text).join(""), python);
  const kinds = (/** @type {string} */ kind) => tokens.filter((t) => t.kind === kind).map((t) => t.text.trim());
  assert.deepEqual(kinds("keyword"), ["def", "return"]);
  assert.deepEqual(kinds("string"), ["f'{x}'"]);
  assert.deepEqual(kinds("number"), ["2"]);
  assert.deepEqual(kinds("comment"), ["# twice", "# done"]);
  const c = '#include <stdio.h>\n/* hi */ int main(void) { printf("%d\\n", 0x1F); }';
  const ct = tokenize(c, "c");
  assert.equal(ct.map((t) => t.text).join(""), c);
  assert.deepEqual(ct.filter((t) => t.kind === "meta").map((t) => t.text), ["#include <stdio.h>"]);
  assert.ok(ct.some((t) => t.kind === "string" && t.text === '"%d\\n"'));
  assert.ok(ct.some((t) => t.kind === "number" && t.text === "0x1F"));
  assert.equal(tokenize("echo $HOME 'x'", "bash").find((t) => t.kind === "variable")?.text, "$HOME");
  assert.equal(tokenize("anything at all", "cobol").map((t) => t.text).join(""), "anything at all");
});

test("HTML in code is escaped", () => {
  assert.equal(renderCode("<b>&", "text"), '<div class="line">&lt;b&gt;&amp;</div>');
});

test("Tab indents to the next stop; over several lines it indents each", () => {
  assert.deepEqual(indent({ value: "ab", selectionStart: 1, selectionEnd: 1 }, "    "), { start: 1, end: 1, text: "   ", selectionStart: 4, selectionEnd: 4 });
  const value = "a\nb\n\nc";
  const edit = indent({ value, selectionStart: 0, selectionEnd: value.length }, "  ");
  assert.equal(edit.text, "  a\n  b\n\n  c");
  assert.equal(edit.selectionStart, 2);
  assert.equal(edit.selectionEnd, edit.start + edit.text.length);
});

test("Shift+Tab dedents each selected line by one unit, and does nothing with nothing to remove", () => {
  const value = "    a\n  b\nc";
  const edit = dedent({ value, selectionStart: 4, selectionEnd: value.length }, "    ");
  assert.equal(edit?.text, "a\nb\nc");
  assert.equal(edit?.start, 0);
  assert.equal(dedent({ value: "x", selectionStart: 0, selectionEnd: 0 }, "    "), null);
});

test("Enter keeps the indentation, adds a level after an opening, and splits braces", () => {
  const py = "    if x:";
  assert.equal(newline({ value: py, selectionStart: py.length, selectionEnd: py.length }, "    ").text, "\n        ");
  const plain = "    x = 1";
  assert.equal(newline({ value: plain, selectionStart: plain.length, selectionEnd: plain.length }, "    ").text, "\n    ");
  const c = "int f() {}";
  const edit = newline({ value: c, selectionStart: 9, selectionEnd: 9 }, "    ");
  assert.equal(edit.text, "\n    \n");
  assert.equal(edit.selectionStart, 9 + 5);
  const comment = "# note:";
  assert.equal(newline({ value: comment, selectionStart: comment.length, selectionEnd: comment.length }, "    ").text, "\n");
});

test("Backspace in leading spaces removes back to the previous stop", () => {
  assert.deepEqual(backspace({ value: "      x", selectionStart: 6, selectionEnd: 6 }, "    "), { start: 4, end: 6, text: "", selectionStart: 4, selectionEnd: 4 });
  assert.equal(backspace({ value: "  a ", selectionStart: 4, selectionEnd: 4 }, "    "), null);
});

test("The indentation unit is read from the code, else the language's habit", () => {
  assert.equal(indentUnit("if x:\n  y\n", "python"), "  ");
  assert.equal(indentUnit("int main() {\n\treturn 0;\n}", "c"), "\t");
  assert.equal(indentUnit("print(1)", "python"), "    ");
  assert.equal(indentUnit("x", "javascript"), "  ");
});

test("Code written inside an HTML element loses the indentation and blank lines around it", () => {
  assert.equal(dedentBlock("\n      print(1)\n      if x:\n          y  \n    "), "print(1)\nif x:\n    y");
  assert.equal(dedentBlock("   "), "");
});
