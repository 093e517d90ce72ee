// The editor's keys, as pure text edits: Tab and Shift+Tab indent and
// dedent (a selection of lines, or at the caret), Enter keeps the line's
// indentation and adds a level after `:`, `{`, `(` or `[`, and Backspace in
// leading spaces removes one level.
//
// Each function takes the text and selection and returns the `Edit` to make
// (replace `[start, end)` with `text`, then select `[selectionStart,
// selectionEnd)`), or `null` to let the browser do its default. The element
// applies an edit so that the browser's undo still works.

/**
 * @typedef {object} TextState
 * @property {string} value
 * @property {number} selectionStart
 * @property {number} selectionEnd
 */

/**
 * @typedef {object} Edit
 * @property {number} start
 * @property {number} end
 * @property {string} text
 * @property {number} selectionStart
 * @property {number} selectionEnd
 */

/**
 * The indentation unit of some code: a tab if a line starts with one,
 * otherwise the smallest indentation of its lines (2 to 8 spaces), otherwise
 * the language's habit.
 * @param {string} code
 * @param {string} language
 */
export function indentUnit(code, language) {
  const indents = code
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => /^[ \t]*/.exec(line)?.[0] ?? "")
    .filter(Boolean);
  if (indents.some((i) => i.startsWith("\t"))) return "\t";
  const smallest = Math.min(...indents.map((i) => i.length));
  if (Number.isFinite(smallest) && smallest >= 2 && smallest <= 8) return " ".repeat(smallest);
  if (language === "go") return "\t";
  if (language === "javascript" || language === "typescript" || language === "ruby" || language === "bash") return "  ";
  return "    ";
}

/**
 * @param {string} value
 * @param {number} index
 */
function lineStartOf(value, index) {
  return value.lastIndexOf("\n", index - 1) + 1;
}

/**
 * Tab: with a selection over several lines, indents each of them; otherwise
 * inserts one unit (spaces up to the next multiple of the unit) at the caret.
 * @param {TextState} s
 * @param {string} unit
 * @returns {Edit}
 */
export function indent(s, unit) {
  const { value, selectionStart: a, selectionEnd: b } = s;
  const selected = value.slice(a, b);
  if (!selected.includes("\n")) {
    const column = a - lineStartOf(value, a);
    const text = unit === "\t" ? "\t" : " ".repeat(unit.length - (column % unit.length));
    return { start: a, end: b, text, selectionStart: a + text.length, selectionEnd: a + text.length };
  }
  const start = lineStartOf(value, a);
  // A selection ending at the start of a line does not take that line.
  const end = b > a && value[b - 1] === "\n" ? b - 1 : b;
  const lines = value.slice(start, end).split("\n");
  const text = lines.map((line) => (line ? unit + line : line)).join("\n");
  const firstAdded = lines[0] ? unit.length : 0;
  return { start, end, text, selectionStart: a + firstAdded, selectionEnd: b + (text.length - (end - start)) };
}

/**
 * Shift+Tab: removes one unit of indentation (or what there is of it) from
 * each line the selection touches.
 * @param {TextState} s
 * @param {string} unit
 * @returns {Edit | null}
 */
export function dedent(s, unit) {
  const { value, selectionStart: a, selectionEnd: b } = s;
  const start = lineStartOf(value, a);
  const end = b > a && value[b - 1] === "\n" ? b - 1 : b;
  const lineEnd = value.indexOf("\n", end);
  const stop = lineEnd < 0 ? value.length : lineEnd;
  const lines = value.slice(start, stop).split("\n");
  const removed = lines.map((line) => {
    if (line.startsWith("\t")) return 1;
    const spaces = /^ */.exec(line)?.[0].length ?? 0;
    return Math.min(spaces, unit === "\t" ? 4 : unit.length);
  });
  if (removed.every((n) => n === 0)) return null;
  const text = lines.map((line, i) => line.slice(removed[i])).join("\n");
  const total = removed.reduce((x, y) => x + y, 0);
  const firstCol = a - start;
  return {
    start,
    end: stop,
    text,
    selectionStart: a - Math.min(removed[0], firstCol),
    selectionEnd: Math.max(start, b - total),
  };
}

/**
 * Enter: a new line with the current line's indentation, one level deeper
 * after an opening `:`, `{`, `(` or `[`. Between `{` and `}` the closing
 * brace moves to a line of its own.
 * @param {TextState} s
 * @param {string} unit
 * @returns {Edit}
 */
export function newline(s, unit) {
  const { value, selectionStart: a, selectionEnd: b } = s;
  const start = lineStartOf(value, a);
  const before = value.slice(start, a);
  const current = /^[ \t]*/.exec(before)?.[0] ?? "";
  const trimmed = before.trimEnd();
  const opens = /[:{([]$/.test(trimmed) && !/^\s*(#|\/\/)/.test(trimmed);
  const inner = opens ? current + unit : current;
  const after = value.slice(b).match(/^[ \t]*([}\])])/);
  if (opens && after && matches(trimmed.at(-1), after[1])) {
    const text = `\n${inner}\n${current}`;
    const caret = a + 1 + inner.length;
    return { start: a, end: b, text, selectionStart: caret, selectionEnd: caret };
  }
  const text = `\n${inner}`;
  return { start: a, end: b, text, selectionStart: a + text.length, selectionEnd: a + text.length };
}

/**
 * @param {string | undefined} open
 * @param {string} close
 */
function matches(open, close) {
  return (open === "{" && close === "}") || (open === "(" && close === ")") || (open === "[" && close === "]");
}

/**
 * Backspace: in the leading spaces of a line, with no selection, removes
 * back to the previous multiple of the unit.
 * @param {TextState} s
 * @param {string} unit
 * @returns {Edit | null}
 */
export function backspace(s, unit) {
  const { value, selectionStart: a, selectionEnd: b } = s;
  if (a !== b || unit === "\t") return null;
  const start = lineStartOf(value, a);
  const before = value.slice(start, a);
  if (!before || /[^ ]/.test(before)) return null;
  const remove = before.length % unit.length || unit.length;
  return { start: a - remove, end: a, text: "", selectionStart: a - remove, selectionEnd: a - remove };
}

/**
 * Code as an author wrote it inside an HTML element: without the blank
 * lines around it, the indentation its lines share, or trailing spaces.
 * (No final line feed either: the editor would show it as an empty last
 * line. The snippet adds one to the file it sends.)
 * @param {string} text
 */
export function dedentBlock(text) {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  while (lines.length && !lines[0].trim()) lines.shift();
  while (lines.length && !lines.at(-1)?.trim()) lines.pop();
  const indents = lines.filter((l) => l.trim()).map((l) => /^[ \t]*/.exec(l)?.[0].length ?? 0);
  const common = indents.length ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(common).trimEnd()).join("\n");
}
