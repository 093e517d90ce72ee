// The <coderun-snippet> element's shadow DOM styles.
//
// Every colour, font and radius is a `--coderun-*` custom property with a
// light and a dark default, so that a page themes snippets from outside the
// shadow root. The dark defaults apply when the page prefers a dark scheme
// (unless the element says `theme="light"`) or when it says `theme="dark"`.
// The editor's textarea and its backdrop must share every metric (font,
// size, line height, padding, tab size), or the caret drifts from the text.

const LIGHT = `
  color-scheme: light;
  --_bg: var(--coderun-bg, #ffffff);
  --_fg: var(--coderun-fg, #1f2328);
  --_muted: var(--coderun-muted, #59636e);
  --_border: var(--coderun-border, #d1d9e0);
  --_chrome: var(--coderun-chrome-bg, #f6f8fa);
  --_gutter: var(--coderun-gutter-fg, #8c959f);
  --_accent: var(--coderun-accent, #0969da);
  --_accent-fg: var(--coderun-accent-fg, #ffffff);
  --_output-bg: var(--coderun-output-bg, #f6f8fa);
  --_output-fg: var(--coderun-output-fg, #1f2328);
  --_stderr: var(--coderun-stderr, #c21c2c);
  --_stdin: var(--coderun-stdin, #6639ba);
  --_ok: var(--coderun-ok, #1a7f37);
  --_error: var(--coderun-error, #cf222e);
  --_warning: var(--coderun-warning, #9a6700);
  --_info: var(--coderun-info, #0969da);
  --_error-bg: var(--coderun-error-bg, #ffebe9);
  --_warning-bg: var(--coderun-warning-bg, #fff8c5);
  --_info-bg: var(--coderun-info-bg, #ddf4ff);
  --_selection: var(--coderun-selection, #b6e3ff);
  --_focus: var(--coderun-focus, #0969da);
  --_tok-keyword: var(--coderun-token-keyword, #cf222e);
  --_tok-string: var(--coderun-token-string, #0a3069);
  --_tok-comment: var(--coderun-token-comment, #6e7781);
  --_tok-number: var(--coderun-token-number, #0550ae);
  --_tok-builtin: var(--coderun-token-builtin, #8250df);
  --_tok-meta: var(--coderun-token-meta, #953800);
  --_tok-variable: var(--coderun-token-variable, #953800);
`;

const DARK = `
  color-scheme: dark;
  --_bg: var(--coderun-bg, #0d1117);
  --_fg: var(--coderun-fg, #e6edf3);
  --_muted: var(--coderun-muted, #9198a1);
  --_border: var(--coderun-border, #3d444d);
  --_chrome: var(--coderun-chrome-bg, #151b23);
  --_gutter: var(--coderun-gutter-fg, #656c76);
  --_accent: var(--coderun-accent, #2f81f7);
  --_accent-fg: var(--coderun-accent-fg, #ffffff);
  --_output-bg: var(--coderun-output-bg, #010409);
  --_output-fg: var(--coderun-output-fg, #e6edf3);
  --_stderr: var(--coderun-stderr, #ff8182);
  --_stdin: var(--coderun-stdin, #d2a8ff);
  --_ok: var(--coderun-ok, #3fb950);
  --_error: var(--coderun-error, #f85149);
  --_warning: var(--coderun-warning, #d29922);
  --_info: var(--coderun-info, #58a6ff);
  --_error-bg: var(--coderun-error-bg, #f851491f);
  --_warning-bg: var(--coderun-warning-bg, #bb800926);
  --_info-bg: var(--coderun-info-bg, #388bfd1f);
  --_selection: var(--coderun-selection, #264f78);
  --_focus: var(--coderun-focus, #2f81f7);
  --_tok-keyword: var(--coderun-token-keyword, #ff7b72);
  --_tok-string: var(--coderun-token-string, #a5d6ff);
  --_tok-comment: var(--coderun-token-comment, #8b949e);
  --_tok-number: var(--coderun-token-number, #79c0ff);
  --_tok-builtin: var(--coderun-token-builtin, #d2a8ff);
  --_tok-meta: var(--coderun-token-meta, #ffa657);
  --_tok-variable: var(--coderun-token-variable, #ffa657);
`;

export const SNIPPET_CSS = `
:host {
  ${LIGHT}
  --_code-font: var(--coderun-code-font, ui-monospace, "SFMono-Regular", "Cascadia Code", "JetBrains Mono", Menlo, Consolas, "Liberation Mono", monospace);
  --_ui-font: var(--coderun-font, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif);
  --_code-size: var(--coderun-code-size, 14px);
  --_line: 1.55;
  --_radius: var(--coderun-radius, 10px);
  --_pad: 12px;
  display: block;
  margin: var(--coderun-margin, 1.25rem 0);
  font-family: var(--_ui-font);
  font-size: 14px;
  color: var(--_fg);
}
@media (prefers-color-scheme: dark) {
  :host(:not([theme="light"])) { ${DARK} }
}
:host([theme="dark"]) { ${DARK} }
:host([hidden]) { display: none; }

* { box-sizing: border-box; }

.frame {
  container-type: inline-size;
  border: 1px solid var(--_border);
  border-radius: var(--_radius);
  background: var(--_bg);
  overflow: hidden;
  box-shadow: var(--coderun-shadow, 0 1px 2px rgb(0 0 0 / 0.06));
}
.frame:focus-within { border-color: color-mix(in srgb, var(--_focus) 55%, var(--_border)); }

/* Toolbar */
.toolbar {
  display: flex;
  align-items: center;
  gap: 8px;
  padding: 6px 8px 6px 12px;
  background: var(--_chrome);
  border-bottom: 1px solid var(--_border);
  min-height: 42px;
}
.title { display: flex; align-items: center; gap: 8px; min-width: 0; flex: 1; color: var(--_muted); font-size: 13px; }
.title .label { color: var(--_fg); font-weight: 600; white-space: nowrap; flex: none; }
.title .file { font-family: var(--_code-font); font-size: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.title .version { white-space: nowrap; }
.conn { width: 8px; height: 8px; border-radius: 50%; background: var(--_gutter); flex: none; transition: background 0.2s; }
.conn[data-state="open"] { background: var(--_ok); }
.conn[data-state="connecting"] { background: var(--_warning); }
.conn[data-state="retrying"], .conn[data-state="failed"], .conn[data-state="unavailable"] { background: var(--_error); }

button {
  font: inherit;
  font-size: 13px;
  font-weight: 600;
  display: inline-flex;
  align-items: center;
  gap: 6px;
  height: 30px;
  padding: 0 12px;
  border-radius: 6px;
  border: 1px solid var(--_border);
  background: var(--_bg);
  color: var(--_fg);
  cursor: pointer;
  white-space: nowrap;
}
button:hover:not(:disabled) { border-color: var(--_muted); }
button:disabled { opacity: 0.45; cursor: default; }
button:focus-visible, textarea:focus-visible, input:focus-visible, .problem:focus-visible {
  outline: 2px solid var(--_focus);
  outline-offset: 1px;
}
button svg { width: 12px; height: 12px; flex: none; fill: currentColor; }
.run { background: var(--_accent); border-color: var(--_accent); color: var(--_accent-fg); }
.run:hover:not(:disabled) { border-color: var(--_accent); filter: brightness(1.08); }
.stop:not(:disabled) { color: var(--_error); }
.kbd { font-weight: 400; opacity: 0.75; font-size: 11px; }
/* Narrow: icons only for Reset and Stop (their names stay for screen readers). */
@container (max-width: 520px) {
  .kbd, .title .version { display: none; }
  .reset, .stop { padding: 0 9px; }
  .reset span, .stop span { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
}

/* Editor: line numbers, then the textarea laid over its backdrop. */
.editor {
  display: flex;
  font-family: var(--_code-font);
  font-size: var(--_code-size);
  line-height: var(--_line);
  font-variant-ligatures: none;
  tab-size: 4;
  background: var(--_bg);
}
.gutter {
  flex: none;
  padding: var(--_pad) 0;
  min-width: 3.2em;
  text-align: right;
  color: var(--_gutter);
  user-select: none;
  border-right: 1px solid color-mix(in srgb, var(--_border) 60%, transparent);
}
.gutter div { padding: 0 10px 0 14px; position: relative; }
.gutter .diag-error { color: var(--_error); font-weight: 700; }
.gutter .diag-warning { color: var(--_warning); font-weight: 700; }
.gutter .diag-information, .gutter .diag-hint { color: var(--_info); }
.gutter .diag-error::before, .gutter .diag-warning::before, .gutter .diag-information::before, .gutter .diag-hint::before {
  content: "";
  position: absolute;
  left: 4px;
  top: 50%;
  width: 6px;
  height: 6px;
  margin-top: -3px;
  border-radius: 50%;
  background: currentColor;
}
.code { position: relative; flex: 1; min-width: 0; }
.backdrop, textarea {
  margin: 0;
  border: 0;
  padding: var(--_pad) var(--_pad) calc(var(--_pad) + 10px);
  font: inherit;
  line-height: inherit;
  letter-spacing: 0;
  tab-size: inherit;
  white-space: pre;
  overflow-wrap: normal;
  word-break: normal;
}
.backdrop { color: var(--_fg); overflow: hidden; pointer-events: none; min-height: 100%; }
.backdrop .line { min-height: calc(var(--_line) * 1em); }
.backdrop .diag-error { background: var(--_error-bg); }
.backdrop .diag-warning { background: var(--_warning-bg); }
.backdrop .diag-information, .backdrop .diag-hint { background: var(--_info-bg); }
.backdrop .line[class*="diag-"] { margin: 0 calc(-1 * var(--_pad)); padding: 0 var(--_pad); }
.squiggle { text-decoration: underline wavy; text-decoration-skip-ink: none; text-underline-offset: 3px; text-decoration-thickness: 1.5px; }
.squiggle-error { text-decoration-color: var(--_error); }
.squiggle-warning { text-decoration-color: var(--_warning); }
.squiggle-information, .squiggle-hint { text-decoration-color: var(--_info); }
.editor.stale .backdrop [class*="diag-"], .editor.stale .squiggle { background: none; text-decoration-color: transparent; }
.tok-keyword { color: var(--_tok-keyword); }
.tok-string { color: var(--_tok-string); }
.tok-comment { color: var(--_tok-comment); font-style: italic; }
.tok-number { color: var(--_tok-number); }
.tok-builtin { color: var(--_tok-builtin); }
.tok-meta { color: var(--_tok-meta); }
.tok-variable { color: var(--_tok-variable); }
textarea {
  position: absolute;
  inset: 0;
  width: 100%;
  height: 100%;
  resize: none;
  overflow-x: auto;
  overflow-y: hidden;
  background: transparent;
  color: transparent;
  -webkit-text-fill-color: transparent;
  caret-color: var(--_fg);
  outline: none;
}
textarea:focus-visible { outline: none; }
textarea::selection { background: var(--_selection); }

/* Problems */
.problems { list-style: none; margin: 0; padding: 6px; border-top: 1px solid var(--_border); background: var(--_chrome); }
.problems[hidden] { display: none; }
.problem {
  display: flex;
  gap: 8px;
  align-items: baseline;
  width: 100%;
  height: auto;
  padding: 5px 8px;
  border: 0;
  border-radius: 6px;
  background: none;
  font-weight: 400;
  text-align: left;
  white-space: normal;
  font-size: 13px;
}
button.problem { cursor: pointer; }
button.problem:hover { background: color-mix(in srgb, var(--_border) 35%, transparent); }
.problem .sev { font-weight: 700; text-transform: capitalize; flex: none; }
.problem .sev-error { color: var(--_error); }
.problem .sev-warning { color: var(--_warning); }
.problem .sev-information, .problem .sev-hint { color: var(--_info); }
.problem .where { font-family: var(--_code-font); font-size: 12px; color: var(--_muted); flex: none; }
.problem .msg { flex: 1; }
.problem .src { color: var(--_muted); font-size: 12px; flex: none; }

/* Console: status, output, stdin */
.console { border-top: 1px solid var(--_border); background: var(--_output-bg); color: var(--_output-fg); }
.console[hidden] { display: none; }
.console-head {
  display: flex;
  align-items: center;
  gap: 10px;
  padding: 6px 12px;
  font-size: 12px;
  color: var(--_muted);
  border-bottom: 1px solid color-mix(in srgb, var(--_border) 60%, transparent);
}
.console-head .heading { font-weight: 600; text-transform: uppercase; letter-spacing: 0.06em; font-size: 11px; }
.status { margin-left: auto; display: flex; align-items: center; gap: 6px; font-size: 13px; color: var(--_muted); text-align: right; }
.status .icon { width: 8px; height: 8px; border-radius: 50%; background: currentColor; flex: none; }
.status[data-tone="busy"] .icon { animation: pulse 1s ease-in-out infinite; }
.status[data-tone="ok"] { color: var(--_ok); }
.status[data-tone="error"] { color: var(--_error); }
.status[data-tone="warning"] { color: var(--_warning); }
.status .elapsed { font-variant-numeric: tabular-nums; }
@keyframes pulse { 50% { opacity: 0.3; } }
@media (prefers-reduced-motion: reduce) { .status[data-tone="busy"] .icon { animation: none; } }
.output {
  margin: 0;
  padding: 10px 12px;
  min-height: 2.6em;
  max-height: var(--coderun-output-max-height, 22em);
  overflow: auto;
  font-family: var(--_code-font);
  font-size: var(--_code-size);
  line-height: 1.45;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
.output:empty::before { content: attr(data-empty); color: var(--_muted); font-style: italic; font-family: var(--_ui-font); font-size: 13px; }
.output .stderr { color: var(--_stderr); }
.output .stdin { color: var(--_stdin); font-weight: 600; }
.stdin-row {
  display: flex;
  gap: 8px;
  align-items: center;
  padding: 8px 12px;
  border-top: 1px dashed color-mix(in srgb, var(--_border) 80%, transparent);
}
.stdin-row[hidden] { display: none; }
.stdin-row label { font-size: 12px; color: var(--_muted); font-weight: 600; }
.stdin-row input {
  flex: 1;
  min-width: 0;
  height: 30px;
  padding: 0 10px;
  border: 1px solid var(--_border);
  border-radius: 6px;
  background: var(--_bg);
  color: var(--_fg);
  font-family: var(--_code-font);
  font-size: var(--_code-size);
}
.stdin-row input:disabled { opacity: 0.5; }
.sr-only {
  position: absolute;
  width: 1px;
  height: 1px;
  padding: 0;
  margin: -1px;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
  border: 0;
}
@media (forced-colors: active) {
  .squiggle { text-decoration-color: CanvasText; }
  .run { border: 2px solid ButtonText; }
}
`;
