// <coderun-snippet>: a runnable code block for a course page.
//
//     <script type="module" src="https://coderun.example/client/snippet.js"></script>
//     <coderun-snippet language="python">print("Hello!")</coderun-snippet>
//
// The element shows an editor (its original code, coloured, with line
// numbers), Run and Stop, and a console where stdout and stderr stream in as
// the program writes them, a line for stdin while it runs, and a status line
// that says how it ended. Compiler diagnostics are listed under the editor
// and marked on their lines. Everything is in a shadow root, themed by
// `--coderun-*` custom properties (snippet-styles.js).
//
// Snippets share one `CoderunClient` per server URL and token, so a page of
// twenty snippets holds one WebSocket. The server is the `server` attribute,
// else `<meta name="coderun-server" content="...">`, else the origin this
// script was loaded from (page.js). `upgradeCodeBlocks()` turns every
// `<pre><code class="language-X">` of a page into a snippet.

import { describeError, describeResult, describeState } from "./describe.js";
import { dedentBlock } from "./editing.js";
import { CodeEditor } from "./editor.js";
import { escapeHtml } from "./highlight.js";
import { ALIASES, LANGUAGE_NAMES, LIMIT_ATTRIBUTES, clientFor, defaultServer } from "./page.js";
import { RunConsole } from "./run-console.js";
import { SNIPPET_CSS } from "./snippet-styles.js";

export { clientFor, upgradeCodeBlocks } from "./page.js";

/**
 * @typedef {import("./protocol.js").Diagnostic} Diagnostic
 * @typedef {import("./protocol.js").RunParams} RunParams
 * @typedef {import("./protocol.js").PartialLimits} PartialLimits
 * @typedef {import("./protocol.js").InitializeResult} InitializeResult
 * @typedef {import("./job.js").Job} Job
 * @typedef {import("./client.js").CoderunClient} CoderunClient
 */

/** How long a run goes before the stdin line appears; a quick program ends first. */
const STDIN_DELAY_MS = 200;

/** @type {CSSStyleSheet | null} */
let sheet = null;

/** @param {ShadowRoot} root */
function adoptStyles(root) {
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(SNIPPET_CSS);
    }
    root.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement("style");
    style.textContent = SNIPPET_CSS;
    root.append(style);
  }
}

const ICON_RUN = '<svg viewBox="0 0 12 12" aria-hidden="true"><path d="M2.5 1.2v9.6L10.6 6z"/></svg>';
const ICON_STOP = '<svg viewBox="0 0 12 12" aria-hidden="true"><rect x="2" y="2" width="8" height="8" rx="1.2"/></svg>';
const ICON_RESET =
  '<svg viewBox="0 0 12 12" aria-hidden="true"><path d="M6 1.5a4.5 4.5 0 1 1-4.3 5.8l1.3-.4A3.2 3.2 0 1 0 6 2.8c-.9 0-1.7.4-2.3 1L5 5H1V1l1.8 1.8A4.5 4.5 0 0 1 6 1.5z"/></svg>';

let instances = 0;

export class CoderunSnippet extends HTMLElement {
  static observedAttributes = ["language", "readonly", "label", "filename"];

  /** The code the element started with; `reset()` returns to it. */
  originalCode = "";

  /** @type {ShadowRoot} */
  #root;
  /** @type {Record<string, HTMLElement>} */
  #el = {};
  /** @type {CoderunClient | null} */
  #client = null;
  /** @type {(() => void)[]} */
  #unsubscribe = [];
  /** @type {Job | null} */
  #job = null;
  /** A run being prepared (connecting) or in flight. */
  #busy = false;
  /** Counts runs, so that a run stopped while it was connecting knows. */
  #ticket = 0;
  /** @type {Diagnostic[]} */
  #diagnostics = [];
  /** @type {CodeEditor | null} */
  #editor = null;
  /** @type {RunConsole | null} */
  #console = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #stdinTimer;
  #id = ++instances;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open", delegatesFocus: false });
    adoptStyles(this.#root);
  }

  connectedCallback() {
    if (!this.#editor) {
      if (document.readyState === "loading" && !this.originalCode && !this.#sourceText().trim()) {
        // Parsed before its children: wait for them.
        document.addEventListener("DOMContentLoaded", () => this.connectedCallback(), { once: true });
        return;
      }
      this.#build();
    }
    this.#attachClient();
  }

  disconnectedCallback() {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#job?.cancel();
  }

  /**
   * @param {string} name
   * @param {string | null} _old
   * @param {string | null} _value
   */
  attributeChangedCallback(name, _old, _value) {
    if (!this.#editor) return;
    if (name === "readonly") this.#editor.textarea.readOnly = this.hasAttribute("readonly");
    if (name === "language") this.#editor.language = this.language;
    this.#updateTitle();
  }

  /** The language id, e.g. `"python"`. */
  get language() {
    const value = (this.getAttribute("language") ?? "").trim().toLowerCase();
    return ALIASES[value] ?? value;
  }

  /** The code in the editor now. */
  get code() {
    return this.#editor?.value ?? this.originalCode;
  }

  set code(value) {
    if (!this.#editor) {
      this.originalCode = value;
      return;
    }
    this.#editor.value = value;
    this.#updateReset();
  }

  /** The job of the latest run, if any. */
  get job() {
    return this.#job;
  }

  /** The client this snippet runs on; by default the page's shared one. */
  get client() {
    if (!this.#client) this.#client = clientFor(this.getAttribute("server") || defaultServer(), this.getAttribute("token") ?? undefined);
    return this.#client;
  }

  /** Use another client, e.g. one made with a token from your back end. */
  set client(client) {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#client = client;
    if (this.isConnected && this.#editor) this.#attachClient();
  }

  /** Runs the code in the editor. Does nothing while a run is in flight. */
  async run() {
    if (this.#busy || !this.#editor) return;
    this.#busy = true;
    const ticket = ++this.#ticket;
    const focusWasOnRun = this.#root.activeElement === this.#el.run;
    this.#clearResults();
    this.#el.console.hidden = false;
    this.#setRunning(true);
    if (focusWasOnRun) /** @type {HTMLButtonElement} */ (this.#el.stop).focus();
    this.#setStatus("connecting…", "busy");
    const client = this.client;
    // While the server cannot be reached, say so rather than "connecting…".
    const offState = client.on("state", (state, detail) => {
      if (ticket !== this.#ticket) offState();
      else if (state === "retrying") this.#setStatus(`cannot reach the server (${detail.error?.message ?? "no answer"}); retrying…`, "busy");
      else if (state === "connecting") this.#setStatus("connecting…", "busy");
    });
    /** @type {InitializeResult} */
    let init;
    try {
      init = await client.connect();
    } catch (error) {
      offState();
      if (ticket !== this.#ticket) return;
      this.#finish();
      this.#setStatus(describeError(error), "error");
      this.#emit("coderun-error", { error });
      return;
    }
    offState();
    if (ticket !== this.#ticket) return;
    const info = init.languages.find((l) => l.id === this.language);
    if (!info) {
      this.#finish();
      this.#setStatus(`this server does not run ${this.#languageName()}`, "error");
      return;
    }
    const interactive = !this.hasAttribute("stdin") && this.getAttribute("interactive") !== "false" && init.features.includes("interactive");
    const path = this.#filename();
    /** @type {RunParams} */
    const params = {
      language: info.id,
      entry: path,
      // Compilers warn about a last line without a line feed.
      files: [{ path, content: this.code.endsWith("\n") ? this.code : `${this.code}\n` }],
    };
    const limits = this.#requestedLimits();
    if (Object.keys(limits).length) params.limits = limits;
    const args = this.#args();
    if (args.length) params.args = args;
    if (this.hasAttribute("stdin")) params.stdin = this.getAttribute("stdin") ?? "";
    if (interactive) params.interactive = true;
    const limitsInForce = { run: { ...init.limits.defaults, ...limits }, build: init.limits.build };

    const job = client.run(params);
    this.#job = job;
    this.#emit("coderun-run", { job });
    job.on("status", ({ state, position }) => {
      const running = state === "running";
      this.#setStatus(describeState(state, position), "busy", running ? Date.now() : undefined);
      if (running && interactive) {
        // Focus follows the run: to the stdin line if it was on Run or is on Stop.
        this.#stdinTimer = setTimeout(() => {
          if (job.done) return;
          this.#console?.showStdin(focusWasOnRun || this.#root.activeElement === this.#el.stop);
        }, STDIN_DELAY_MS);
      }
      this.#emit("coderun-status", { state, position });
    });
    job.on("output", ({ stream, text }) => {
      this.#console?.append(stream, text);
      this.#emit("coderun-output", { stream, text });
    });
    job.on("diagnostics", ({ diagnostics }) => {
      this.#addDiagnostics(diagnostics);
      this.#emit("coderun-diagnostics", { diagnostics });
    });
    job.on("result", (result) => {
      const { text, tone } = describeResult(result, limitsInForce);
      this.#finish();
      this.#setStatus(text, tone);
      this.#emit("coderun-result", { result, text });
    });
    job.on("error", (error) => {
      this.#finish();
      this.#setStatus(describeError(error), "error");
      this.#emit("coderun-error", { error });
    });
  }

  /** Stops the run in flight. Its result then says `stopped`. */
  stop() {
    if (!this.#busy) return;
    if (this.#job && !this.#job.done) {
      this.#setStatus("stopping…", "busy");
      this.#job.cancel();
    } else {
      // Still connecting: the run was never sent.
      this.#ticket++;
      this.#finish();
      this.#setStatus("stopped before it started", "neutral");
    }
  }

  /** Stops any run, and puts back the original code with no output. */
  reset() {
    this.stop();
    this.code = this.originalCode;
    this.#clearResults();
    this.#el.console.hidden = true;
    this.#emit("coderun-reset", {});
  }

  #build() {
    this.originalCode = this.originalCode || dedentBlock(this.#sourceText());
    const id = `s${this.#id}`;
    this.#root.innerHTML = `
      <div class="frame" part="frame">
        <div class="toolbar" part="toolbar">
          <div class="title">
            <span class="conn" aria-hidden="true"></span>
            <span class="label"></span>
            <span class="version"></span>
            <span class="file" part="filename"></span>
          </div>
          <button type="button" class="reset" part="button reset-button" title="Put back the original code">${ICON_RESET}<span>Reset</span></button>
          <button type="button" class="stop" part="button stop-button" disabled>${ICON_STOP}<span>Stop</span></button>
          <button type="button" class="run" part="button run-button" aria-keyshortcuts="Control+Enter" title="Run (Ctrl+Enter)">${ICON_RUN}<span>Run</span><span class="kbd" aria-hidden="true">Ctrl+↵</span></button>
        </div>
        <div class="editor" part="editor"></div>
        <span class="sr-only" id="${id}-help">Tab indents; press Escape, then Tab, to leave the editor. Control+Enter runs the code.</span>
        <span class="sr-only" id="${id}-problems-label"></span>
        <ul class="problems" part="problems" aria-label="Problems" hidden></ul>
        <section class="console" part="console" aria-label="Program" hidden></section>
      </div>`;
    const $ = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (this.#root.querySelector(selector));
    this.#el = {
      frame: $(".frame"),
      conn: $(".conn"),
      label: $(".label"),
      version: $(".version"),
      file: $(".file"),
      run: $(".run"),
      stop: $(".stop"),
      reset: $(".reset"),
      problems: $(".problems"),
      problemsLabel: $(`#${id}-problems-label`),
      console: $(".console"),
    };
    const editor = new CodeEditor($(".editor"), {
      code: this.originalCode,
      language: this.language,
      describedBy: `${id}-help ${id}-problems-label`,
    });
    this.#editor = editor;
    editor.textarea.readOnly = this.hasAttribute("readonly");
    editor.textarea.addEventListener("input", () => this.#updateReset());
    this.#console = new RunConsole(this.#el.console, id);
    this.#console.onStdin = (text, eof) => {
      const job = this.#job;
      if (!job || job.done) return false;
      if (eof) job.closeStdin(text);
      else job.write(text);
      return true;
    };

    this.#el.run.addEventListener("click", () => void this.run());
    this.#el.stop.addEventListener("click", () => this.stop());
    this.#el.reset.addEventListener("click", () => this.reset());
    this.#root.addEventListener("keydown", (event) => {
      const e = /** @type {KeyboardEvent} */ (event);
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void this.run();
      }
    });
    this.#updateReset();
    this.#updateTitle();
  }

  /** The code the author wrote: a `<textarea>` or `<script type="text/plain">` child, or the text. */
  #sourceText() {
    const raw = this.querySelector(":scope > textarea, :scope > script[type='text/plain']");
    if (raw) return raw instanceof HTMLTextAreaElement ? raw.defaultValue : (raw.textContent ?? "");
    return this.textContent ?? "";
  }

  #attachClient() {
    if (this.#unsubscribe.length) return;
    const client = this.client;
    const update = () => this.#updateTitle();
    this.#unsubscribe.push(client.on("state", update), client.on("open", update));
    update();
  }

  #languageName() {
    return this.#client?.language(this.language)?.name ?? LANGUAGE_NAMES[this.language] ?? this.language;
  }

  #filename() {
    return this.getAttribute("filename") || this.#client?.language(this.language)?.entry || "main";
  }

  /** @returns {PartialLimits} */
  #requestedLimits() {
    /** @type {Record<string, number>} */
    const limits = {};
    for (const [attribute, name] of Object.entries(LIMIT_ATTRIBUTES)) {
      const value = this.getAttribute(attribute);
      if (value !== null && value.trim() !== "" && Number.isFinite(Number(value))) limits[name] = Number(value);
    }
    return limits;
  }

  /** @returns {string[]} */
  #args() {
    const value = this.getAttribute("args");
    if (!value) return [];
    try {
      const parsed = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // Not JSON: words separated by spaces.
    }
    return value.split(/\s+/).filter(Boolean);
  }

  #updateTitle() {
    if (!this.#editor) return;
    const client = this.#client;
    const info = client?.language(this.language);
    const known = client?.initializeResult;
    this.#el.label.textContent = this.getAttribute("label") || (info ? info.name.replace(/ \(.*\)$/, "") : this.#languageName());
    this.#el.version.textContent = info ? info.version : "";
    this.#el.file.textContent = this.#filename();
    const unavailable = Boolean(known && !info);
    const state = unavailable ? "unavailable" : (client?.state ?? "idle");
    this.#el.conn.dataset.state = state;
    this.#el.conn.title = unavailable
      ? `This server does not run ${this.#languageName()}`
      : state === "open"
        ? "Connected"
        : state === "retrying"
          ? "Connection lost; retrying"
          : state === "failed"
            ? `Refused: ${client?.lastError?.message ?? ""}`
            : "Connecting";
    /** @type {HTMLButtonElement} */ (this.#el.run).disabled = this.#busy || unavailable;
    this.#editor.textarea.setAttribute("aria-label", `${this.#languageName()} code`);
  }

  /** Reset has something to do once the code changed or a run showed output. */
  #updateReset() {
    /** @type {HTMLButtonElement} */ (this.#el.reset).disabled = this.code === this.originalCode && this.#el.console.hidden;
  }

  #clearResults() {
    clearTimeout(this.#stdinTimer);
    this.#diagnostics = [];
    this.#el.problems.hidden = true;
    this.#el.problems.replaceChildren();
    this.#el.problemsLabel.textContent = "";
    this.#editor?.setDiagnostics([]);
    this.#console?.clear();
    this.#updateReset();
  }

  /** @param {boolean} running */
  #setRunning(running) {
    /** @type {HTMLButtonElement} */ (this.#el.run).disabled = running;
    /** @type {HTMLButtonElement} */ (this.#el.stop).disabled = !running;
    this.#el.frame.toggleAttribute("data-running", running);
    this.toggleAttribute("running", running);
    /** @type {HTMLButtonElement} */ (this.#el.reset).disabled = false;
  }

  /** The run ended (a result, an error, or stopped before it was sent). */
  #finish() {
    const hadFocus = this.#root.activeElement;
    this.#busy = false;
    clearTimeout(this.#stdinTimer);
    this.#setRunning(false);
    this.#console?.hideStdin();
    this.#updateTitle();
    // Focus was on a control that is now disabled or hidden: give it back to Run.
    if (hadFocus === this.#el.stop || this.#console?.ownsStdinControl(hadFocus ?? null)) {
      /** @type {HTMLButtonElement} */ (this.#el.run).focus();
    }
  }

  /**
   * @param {string} text
   * @param {import("./run-console.js").StatusTone} tone
   * @param {number} [since] show the time since then, ticking
   */
  #setStatus(text, tone, since) {
    this.#console?.setStatus(text, tone, since);
  }

  /** @param {Diagnostic[]} diagnostics */
  #addDiagnostics(diagnostics) {
    this.#diagnostics.push(...diagnostics);
    const file = this.#filename();
    const list = this.#el.problems;
    for (const d of diagnostics) {
      const item = document.createElement("li");
      // A diagnostic of this file takes the caret to its place; one of
      // another file (a header, say) can only be read.
      const button = document.createElement(d.file === file ? "button" : "div");
      if (button instanceof HTMLButtonElement) button.type = "button";
      button.className = "problem";
      button.dataset.line = String(d.range.start.line + 1);
      const where = d.file === file ? `line ${d.range.start.line + 1}` : `${d.file}:${d.range.start.line + 1}`;
      const source = [d.source, d.code].filter(Boolean).join(" ");
      button.innerHTML = `<span class="sev sev-${escapeHtml(d.severity)}">${escapeHtml(d.severity)}</span><span class="where">${escapeHtml(where)}</span><span class="msg">${escapeHtml(d.message)}</span>${source ? `<span class="src">${escapeHtml(source)}</span>` : ""}`;
      if (d.file === file) button.addEventListener("click", () => this.#editor?.select(d.range));
      item.append(button);
      list.append(item);
    }
    list.hidden = false;
    const errors = this.#diagnostics.filter((d) => d.severity === "error").length;
    const others = this.#diagnostics.length - errors;
    this.#el.problemsLabel.textContent = [errors && `${errors} error${errors > 1 ? "s" : ""}`, others && `${others} other problem${others > 1 ? "s" : ""}`]
      .filter(Boolean)
      .join(", ");
    this.#editor?.setDiagnostics(this.#diagnostics.filter((d) => d.file === file));
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

if (globalThis.customElements && !customElements.get("coderun-snippet")) {
  customElements.define("coderun-snippet", CoderunSnippet);
}
