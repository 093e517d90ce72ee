// The snippet's code editor: a textarea laid exactly over a coloured
// backdrop, with line numbers, and diagnostics marked on their lines.
//
// The textarea's own text is transparent; what shows is the backdrop
// (highlight.js), re-rendered on every input, so the caret and selection are
// the browser's own and so are undo, IME and screen-reader support. Keys
// that the browser would get wrong in code (Tab, Shift+Tab, Enter,
// Backspace in indentation) become text edits (editing.js), applied through
// the browser's editing commands so that Ctrl+Z still undoes them. After
// Escape, Tab leaves the editor, as WAI-ARIA advises for widgets that take
// Tab.

import { backspace, dedent, indent, indentUnit, newline } from "./editing.js";
import { escapeHtml, lineMarks, renderCode } from "./highlight.js";

/**
 * @typedef {import("./protocol.js").Diagnostic} Diagnostic
 * @typedef {import("./protocol.js").Position} Position
 * @typedef {import("./editing.js").Edit} Edit
 */

export class CodeEditor {
  /**
   * The diagnostics marked, all of the editor's own file.
   * @type {Diagnostic[]}
   */
  #diagnostics = [];
  #language;
  #unit;
  #tabEscapes = false;
  /** @type {HTMLElement} */
  #gutter;
  /** @type {HTMLElement} */
  #backdrop;

  /**
   * Fills `element` (empty) with the editor.
   * @param {HTMLElement} element
   * @param {{code: string, language: string, describedBy?: string}} options
   */
  constructor(element, options) {
    /** The editor's element, classed `stale` once marked code is edited. */
    this.element = element;
    this.#language = options.language;
    this.#unit = indentUnit(options.code, options.language);
    element.innerHTML = `
      <div class="gutter" aria-hidden="true"></div>
      <div class="code">
        <div class="backdrop" aria-hidden="true"></div>
        <textarea spellcheck="false" autocapitalize="off" autocomplete="off" autocorrect="off" wrap="off" aria-multiline="true"></textarea>
      </div>`;
    this.#gutter = /** @type {HTMLElement} */ (element.querySelector(".gutter"));
    this.#backdrop = /** @type {HTMLElement} */ (element.querySelector(".backdrop"));
    /** The textarea that holds the code. */
    this.textarea = /** @type {HTMLTextAreaElement} */ (element.querySelector("textarea"));
    if (options.describedBy) this.textarea.setAttribute("aria-describedby", options.describedBy);
    this.textarea.value = options.code;
    this.textarea.addEventListener("input", () => {
      this.render();
      if (this.#diagnostics.length) element.classList.add("stale");
    });
    this.textarea.addEventListener("scroll", () => {
      this.#backdrop.scrollLeft = this.textarea.scrollLeft;
    });
    this.textarea.addEventListener("keydown", (event) => this.#key(event));
    this.render();
  }

  /** The code. */
  get value() {
    return this.textarea.value;
  }

  set value(code) {
    this.textarea.value = code;
    this.render();
  }

  /** @param {string} language a language id, for colouring and indentation */
  set language(language) {
    this.#language = language;
    this.#unit = indentUnit(this.value, language);
    this.render();
  }

  /**
   * Marks these diagnostics (of the editor's file) on their lines, in place
   * of any marked before.
   * @param {Diagnostic[]} diagnostics
   */
  setDiagnostics(diagnostics) {
    this.#diagnostics = diagnostics;
    this.element.classList.remove("stale");
    this.render();
  }

  /** Colours the code, marks the diagnostics, numbers the lines. */
  render() {
    const code = this.value;
    this.#backdrop.innerHTML = renderCode(code, this.#language, this.#diagnostics);
    const marks = lineMarks(code, this.#diagnostics);
    const count = code.split("\n").length;
    let gutter = "";
    for (let line = 0; line < count; line++) {
      const mark = marks.get(line);
      gutter += mark
        ? `<div class="diag-${mark.severity}" title="${escapeHtml(mark.messages.join("\n"))}">${line + 1}</div>`
        : `<div>${line + 1}</div>`;
    }
    this.#gutter.innerHTML = gutter;
  }

  /**
   * Focuses the editor with a range selected.
   * @param {{start: Position, end: Position}} range
   */
  select(range) {
    const lines = this.value.split("\n");
    const offset = (/** @type {Position} */ p) => {
      const line = Math.min(p.line, lines.length - 1);
      let index = 0;
      for (let i = 0; i < line; i++) index += lines[i].length + 1;
      return index + Math.min(p.character, lines[line].length);
    };
    this.textarea.focus();
    this.textarea.setSelectionRange(offset(range.start), offset(range.end));
  }

  /** @param {KeyboardEvent} event */
  #key(event) {
    if (event.key === "Escape") {
      this.#tabEscapes = true;
      return;
    }
    if (event.key === "Tab" && this.#tabEscapes) return;
    this.#tabEscapes = false;
    const textarea = this.textarea;
    if (textarea.readOnly || event.altKey || event.isComposing) return;
    const state = { value: textarea.value, selectionStart: textarea.selectionStart, selectionEnd: textarea.selectionEnd };
    /** @type {Edit | null} */
    let edit = null;
    if (event.key === "Tab" && !event.ctrlKey && !event.metaKey) {
      // Shift+Tab with nothing to dedent still must not leave the editor.
      event.preventDefault();
      edit = event.shiftKey ? dedent(state, this.#unit) : indent(state, this.#unit);
    } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      edit = newline(state, this.#unit);
    } else if (event.key === "Backspace" && !event.ctrlKey && !event.metaKey) {
      edit = backspace(state, this.#unit);
    }
    if (!edit) return;
    event.preventDefault();
    this.#apply(edit);
  }

  /**
   * Makes an edit through the browser's editing commands where it has
   * them (deprecated, but the one way to stay on the undo stack), else
   * directly.
   * @param {Edit} edit
   */
  #apply(edit) {
    const textarea = this.textarea;
    textarea.focus();
    textarea.setSelectionRange(edit.start, edit.end);
    let done = false;
    try {
      done = edit.text ? document.execCommand("insertText", false, edit.text) : edit.end > edit.start && document.execCommand("delete", false);
    } catch {
      done = false;
    }
    if (!done) {
      textarea.setRangeText(edit.text, edit.start, edit.end, "end");
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
    textarea.setSelectionRange(edit.selectionStart, edit.selectionEnd);
  }
}
