// The snippet's console: the status line, the output log where stdout and
// stderr stream in, and the stdin line of an interactive run.
//
// The status text is a `role="status"` region and the output a
// `role="log"` live region, so screen readers announce how a run ended and
// what it printed; the running time ticks in a separate element hidden from
// them, so that it is not read out every second. stdin is a pipe, not a
// terminal, so nothing echoes what the student types: the console shows it
// in the log itself, in its own colour.

import { formatDuration } from "./describe.js";

/** @typedef {"ok" | "error" | "warning" | "neutral" | "busy"} StatusTone */

export class RunConsole {
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #ticker;
  /** @type {Record<string, HTMLElement>} */
  #el;

  /**
   * Called with what the student sent: a line (with its line feed), or the
   * last text before end of input (`eof`). Returns whether a program took it.
   * @type {(text: string, eof: boolean) => boolean}
   */
  onStdin = () => false;

  /**
   * Fills `element` (empty) with the console.
   * @param {HTMLElement} element
   * @param {string} id unique in the shadow root, for labels
   */
  constructor(element, id) {
    /** The console's element; hidden until a run shows something. */
    this.element = element;
    element.innerHTML = `
      <div class="console-head">
        <span class="heading" aria-hidden="true">Output</span>
        <div class="status" part="status" data-tone="neutral">
          <span class="icon" aria-hidden="true"></span>
          <span class="status-text" role="status"></span>
          <span class="elapsed" aria-hidden="true"></span>
        </div>
      </div>
      <pre class="output" part="output" role="log" aria-live="polite" aria-label="Output" tabindex="0" data-empty="No output yet."></pre>
      <form class="stdin-row" part="stdin" hidden>
        <label for="${id}-stdin">Input</label>
        <input id="${id}-stdin" type="text" autocomplete="off" spellcheck="false" enterkeyhint="send" placeholder="Type a line and press Enter">
        <button type="submit" class="send">Send</button>
        <button type="button" class="eof" title="Close the program's input (Ctrl+D)">End input</button>
      </form>`;
    const $ = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (element.querySelector(selector));
    this.#el = {
      status: $(".status"),
      text: $(".status-text"),
      elapsed: $(".elapsed"),
      output: $(".output"),
      row: $(".stdin-row"),
      send: $(".send"),
      eof: $(".eof"),
    };
    /** The stdin line's input. */
    this.input = /** @type {HTMLInputElement} */ (element.querySelector(".stdin-row input"));
    this.#el.row.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#send(false);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "d" && event.ctrlKey) {
        event.preventDefault();
        this.#send(true);
      }
    });
    this.#el.eof.addEventListener("click", () => this.#send(true));
  }

  /** Empties the log and the status, and hides the stdin line. */
  clear() {
    this.#el.output.replaceChildren();
    this.hideStdin();
    this.setStatus("", "neutral");
  }

  /**
   * @param {string} text
   * @param {StatusTone} tone
   * @param {number} [since] show the time since then (ms since the epoch), ticking
   */
  setStatus(text, tone, since) {
    this.#el.text.textContent = text;
    this.#el.status.dataset.tone = tone;
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#el.elapsed.textContent = "";
    if (since !== undefined) {
      this.#ticker = setInterval(() => {
        const ms = Date.now() - since;
        this.#el.elapsed.textContent = ms >= 1000 ? formatDuration(Math.floor(ms / 1000) * 1000) : "";
      }, 250);
    }
  }

  /**
   * Appends text to the log, to the last span when it is of the same stream,
   * and keeps the log scrolled to its end if it was there.
   * @param {"stdout" | "stderr" | "stdin"} stream
   * @param {string} text
   */
  append(stream, text) {
    const output = this.#el.output;
    const atBottom = output.scrollHeight - output.scrollTop - output.clientHeight < 24;
    const last = output.lastElementChild;
    if (last instanceof HTMLSpanElement && last.dataset.stream === stream) {
      last.append(text);
    } else {
      const span = document.createElement("span");
      span.className = stream;
      span.dataset.stream = stream;
      span.textContent = text;
      output.append(span);
    }
    if (atBottom) output.scrollTop = output.scrollHeight;
  }

  /** @param {boolean} focus move the keyboard focus to it */
  showStdin(focus) {
    this.input.disabled = false;
    this.#el.row.hidden = false;
    if (focus) this.input.focus();
  }

  hideStdin() {
    this.input.disabled = true;
    this.#el.row.hidden = true;
  }

  /**
   * Whether `element` is one of the stdin line's controls.
   * @param {Element | null} element
   */
  ownsStdinControl(element) {
    return element === this.input || element === this.#el.send || element === this.#el.eof;
  }

  /** @param {boolean} eof */
  #send(eof) {
    if (this.input.disabled) return;
    const text = eof ? this.input.value : `${this.input.value}\n`;
    if (!this.onStdin(text, eof)) return;
    this.input.value = "";
    if (text) this.append("stdin", text);
    if (eof) {
      this.input.disabled = true;
      this.append("stdin", "⏎ end of input\n");
    }
  }
}
