// The editor's backdrop: the code as HTML, one block per line, with tokens
// coloured and diagnostics marked on their lines and ranges.
//
// The snippet's editor is a transparent-text textarea laid exactly over
// this backdrop, so what the student sees coloured is what they edit. The
// tokenizer is deliberately small (comments, strings, numbers, keywords,
// a few builtins per language family): it colours, it does not parse.
// Pure functions of strings, so that they are tested without a browser.

/**
 * @typedef {import("./protocol.js").Diagnostic} Diagnostic
 * @typedef {import("./protocol.js").DiagnosticSeverity} DiagnosticSeverity
 */

/**
 * @typedef {object} Grammar
 * @property {string[]} lineComments e.g. `["//"]`
 * @property {[string, string][]} blockComments e.g. `[["/*", "*\/"]]`
 * @property {string[]} quotes string delimiters, longest first
 * @property {Set<string>} keywords
 * @property {Set<string>} builtins
 * @property {boolean} [preprocessor] C-style `#include` lines
 * @property {boolean} [variables] shell-style `$name`
 * @property {string} [stringPrefixes] letters that may start a string (Python's f, r, b)
 */

const words = (/** @type {string} */ s) => new Set(s.split(/\s+/).filter(Boolean));

const C_KEYWORDS =
  "auto break case char const continue default do double else enum extern float for goto if inline int long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while bool true false NULL";

/** @type {Record<string, Grammar>} */
const GRAMMARS = {
  python: {
    lineComments: ["#"],
    blockComments: [],
    quotes: ['"""', "'''", '"', "'"],
    stringPrefixes: "rRbBfFuU",
    keywords: words(
      "False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case",
    ),
    builtins: words("print input len range int str float list dict set tuple open enumerate zip map filter sorted sum min max abs round type isinstance super self"),
  },
  c: {
    lineComments: ["//"],
    blockComments: [["/*", "*/"]],
    quotes: ['"', "'"],
    preprocessor: true,
    keywords: words(C_KEYWORDS),
    builtins: words("printf scanf puts putchar getchar fgets malloc calloc free strlen strcmp strcpy memcpy exit size_t FILE stdin stdout stderr"),
  },
  cpp: {
    lineComments: ["//"],
    blockComments: [["/*", "*/"]],
    quotes: ['"', "'"],
    preprocessor: true,
    keywords: words(
      `${C_KEYWORDS} class namespace using template typename public private protected virtual override new delete this nullptr auto constexpr try catch throw operator friend`,
    ),
    builtins: words("std cout cin cerr endl string vector map set printf"),
  },
  java: {
    lineComments: ["//"],
    blockComments: [["/*", "*/"]],
    quotes: ['"""', '"', "'"],
    keywords: words(
      "abstract boolean break byte case catch char class const continue default do double else enum extends final finally float for if implements import instanceof int interface long new package private protected public return short static super switch this throw throws try void while var true false null record",
    ),
    builtins: words("System String Math Integer Scanner List ArrayList Map HashMap out println print"),
  },
  javascript: {
    lineComments: ["//"],
    blockComments: [["/*", "*/"]],
    quotes: ['"', "'", "`"],
    keywords: words(
      "async await break case catch class const continue debugger default delete do else export extends false finally for function if import in instanceof let new null of return static super switch this throw true try typeof undefined var void while yield",
    ),
    builtins: words("console log Math JSON Array Object String Number Promise Map Set setTimeout process require"),
  },
  rust: {
    lineComments: ["//"],
    blockComments: [["/*", "*/"]],
    quotes: ['"'],
    keywords: words(
      "as break const continue crate else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while async await dyn",
    ),
    builtins: words("println print eprintln format vec String Vec Option Some None Result Ok Err Box i32 i64 u32 u64 usize f64 bool str"),
  },
  go: {
    lineComments: ["//"],
    blockComments: [["/*", "*/"]],
    quotes: ['"', "`", "'"],
    keywords: words(
      "break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var true false nil",
    ),
    builtins: words("fmt Println Printf len cap make append new panic string int float64 error bool byte rune"),
  },
  ruby: {
    lineComments: ["#"],
    blockComments: [],
    quotes: ['"', "'"],
    keywords: words(
      "alias and begin break case class def defined? do else elsif end ensure false for if in module next nil not or redo rescue retry return self super then true undef unless until when while yield",
    ),
    builtins: words("puts print gets p require attr_accessor each map"),
  },
  bash: {
    lineComments: ["#"],
    blockComments: [],
    quotes: ['"', "'"],
    variables: true,
    keywords: words("if then else elif fi for while until do done case esac in function return local export readonly"),
    builtins: words("echo printf read cd ls cat grep sed awk test exit seq sleep"),
  },
};
GRAMMARS.typescript = {
  ...GRAMMARS.javascript,
  keywords: new Set([...GRAMMARS.javascript.keywords, ..."interface type enum implements private public protected readonly as declare namespace keyof".split(" ")]),
};

/**
 * The grammar for a language id, or a plain one for ids it does not know.
 * @param {string} language
 * @returns {Grammar}
 */
export function grammarFor(language) {
  return GRAMMARS[language] ?? { lineComments: [], blockComments: [], quotes: ['"', "'"], keywords: new Set(), builtins: new Set() };
}

/**
 * A coloured run of text; `kind` is `null` for plain text.
 * @typedef {{text: string, kind: "comment" | "string" | "number" | "keyword" | "builtin" | "meta" | "variable" | null}} Token
 */

/**
 * Splits code into tokens whose texts concatenate to the code exactly.
 * @param {string} code
 * @param {string} language
 * @returns {Token[]}
 */
export function tokenize(code, language) {
  const g = grammarFor(language);
  /** @type {Token[]} */
  const tokens = [];
  /** @param {string} text @param {Token["kind"]} kind */
  const push = (text, kind) => {
    if (!text) return;
    const last = tokens.at(-1);
    if (last && last.kind === kind) last.text += text;
    else tokens.push({ text, kind });
  };
  const rest = code.startsWith.bind(code);
  let i = 0;
  let lineStart = true;
  while (i < code.length) {
    const ch = code[i];
    if (ch === "\n") {
      push(ch, null);
      i++;
      lineStart = true;
      continue;
    }
    if (lineStart && g.preprocessor && /^[ \t]*#/.test(code.slice(i, i + 64))) {
      const end = lineEnd(code, i);
      push(code.slice(i, end), "meta");
      i = end;
      continue;
    }
    if (ch !== " " && ch !== "\t") lineStart = false;
    const line = g.lineComments.find((m) => rest(m, i));
    if (line) {
      const end = lineEnd(code, i);
      push(code.slice(i, end), "comment");
      i = end;
      continue;
    }
    const block = g.blockComments.find(([open]) => rest(open, i));
    if (block) {
      const close = code.indexOf(block[1], i + block[0].length);
      const end = close < 0 ? code.length : close + block[1].length;
      push(code.slice(i, end), "comment");
      i = end;
      continue;
    }
    let start = i;
    if (g.stringPrefixes && g.stringPrefixes.includes(ch) && !isWord(code[i - 1])) {
      let j = i;
      while (j < i + 2 && g.stringPrefixes.includes(code[j])) j++;
      if (g.quotes.some((q) => rest(q, j))) i = j;
    }
    const quote = g.quotes.find((q) => rest(q, i));
    if (quote) {
      const end = stringEnd(code, i + quote.length, quote);
      push(code.slice(start, end), "string");
      i = end;
      continue;
    }
    i = start;
    if (g.variables && ch === "$") {
      const m = /^\$(\{[^}\n]*\}|[A-Za-z_][A-Za-z0-9_]*|[0-9@#?$!*-])/.exec(code.slice(i, i + 128));
      if (m) {
        push(m[0], "variable");
        i += m[0].length;
        continue;
      }
    }
    if (/[0-9]/.test(ch) && !isWord(code[i - 1])) {
      const m = /^(0[xXbBoO][0-9a-fA-F_]+|[0-9][0-9_]*(\.[0-9_]+)?([eE][+-]?[0-9]+)?)[a-zA-Z]*/.exec(code.slice(i, i + 64));
      const text = m ? m[0] : ch;
      push(text, "number");
      i += text.length;
      continue;
    }
    if (isWord(ch)) {
      let j = i;
      while (j < code.length && isWord(code[j])) j++;
      if (code[j] === "?" && g.keywords.has(code.slice(i, j + 1))) j++;
      const word = code.slice(i, j);
      push(word, g.keywords.has(word) ? "keyword" : g.builtins.has(word) ? "builtin" : null);
      i = j;
      continue;
    }
    push(ch, null);
    i++;
  }
  return tokens;
}

/** @param {string | undefined} ch */
function isWord(ch) {
  return ch !== undefined && /[A-Za-z0-9_]/.test(ch);
}

/**
 * @param {string} code
 * @param {number} from
 */
function lineEnd(code, from) {
  const end = code.indexOf("\n", from);
  return end < 0 ? code.length : end;
}

/**
 * The index just past the string that starts at `from` (after its quote).
 * Single-character quotes other than backticks end at the line's end.
 * @param {string} code
 * @param {number} from
 * @param {string} quote
 */
function stringEnd(code, from, quote) {
  const multiline = quote.length > 1 || quote === "`";
  let i = from;
  while (i < code.length) {
    if (code[i] === "\\") {
      i += 2;
      continue;
    }
    if (!multiline && code[i] === "\n") return i;
    if (code.startsWith(quote, i)) return i + quote.length;
    i++;
  }
  return code.length;
}

const SEVERITY_ORDER = /** @type {DiagnosticSeverity[]} */ (["error", "warning", "information", "hint"]);

/**
 * The more serious of two severities.
 * @param {DiagnosticSeverity | undefined} a
 * @param {DiagnosticSeverity} b
 */
export function worse(a, b) {
  if (!a) return b;
  return SEVERITY_ORDER.indexOf(a) <= SEVERITY_ORDER.indexOf(b) ? a : b;
}

/**
 * The diagnostics of one file as marks: the worst severity and the
 * messages of each line (0-based), and the character spans to underline on
 * each line. A range that starts and ends at the same place is widened to
 * one character so that it can be seen; one that runs over several lines
 * marks each of them.
 * @param {string} code
 * @param {Diagnostic[]} diagnostics of this file only
 */
export function lineMarks(code, diagnostics) {
  const lines = code.split("\n");
  /** @type {Map<number, {severity: DiagnosticSeverity, messages: string[], spans: {from: number, to: number, severity: DiagnosticSeverity}[]}>} */
  const marks = new Map();
  for (const d of diagnostics) {
    const first = Math.min(Math.max(0, d.range.start.line), lines.length - 1);
    const last = Math.min(Math.max(first, d.range.end.line), lines.length - 1);
    for (let line = first; line <= last; line++) {
      const text = lines[line];
      let from = line === d.range.start.line ? d.range.start.character : 0;
      let to = line === d.range.end.line ? d.range.end.character : text.length;
      from = Math.min(Math.max(0, from), text.length);
      to = Math.min(Math.max(from, to), text.length);
      if (from === to) {
        // A point: mark the character there, or the one before the line's end.
        if (to < text.length) to++;
        else if (from > 0) from--;
      }
      const mark = marks.get(line) ?? { severity: d.severity, messages: [], spans: [] };
      mark.severity = worse(mark.severity, d.severity);
      if (line === first) mark.messages.push(d.message);
      if (to > from) mark.spans.push({ from, to, severity: d.severity });
      marks.set(line, mark);
    }
  }
  return marks;
}

/** @param {string} text */
export function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (ch) => (ch === "&" ? "&amp;" : ch === "<" ? "&lt;" : ch === ">" ? "&gt;" : "&quot;"));
}

/**
 * The backdrop's HTML: one `<div class="line">` per line of `code`, its
 * tokens as `<span class="tok-KIND">`, a line with a diagnostic classed
 * `diag-SEVERITY`, and each diagnostic's characters wrapped in a span
 * classed `squiggle squiggle-SEVERITY`.
 * @param {string} code
 * @param {string} language
 * @param {Diagnostic[]} [diagnostics] of this file only
 */
export function renderCode(code, language, diagnostics = []) {
  const marks = lineMarks(code, diagnostics);
  // Split the token stream into lines, keeping each token's kind.
  /** @type {Token[][]} */
  const lines = [[]];
  for (const token of tokenize(code, language)) {
    const parts = token.text.split("\n");
    parts.forEach((part, i) => {
      if (i > 0) lines.push([]);
      if (part) lines[lines.length - 1].push({ text: part, kind: token.kind });
    });
  }
  return lines
    .map((tokens, line) => {
      const mark = marks.get(line);
      const html = mark ? renderMarked(tokens, mark.spans) : tokens.map(renderToken).join("");
      const cls = mark ? ` diag-${mark.severity}` : "";
      // An empty line still needs a line box of its own.
      return `<div class="line${cls}">${html || "\u200b"}</div>`;
    })
    .join("");
}

/** @param {Token} token */
function renderToken(token) {
  const text = escapeHtml(token.text);
  return token.kind ? `<span class="tok-${token.kind}">${text}</span>` : text;
}

/**
 * Tokens of one line with the spans' characters wrapped as squiggles.
 * @param {Token[]} tokens
 * @param {{from: number, to: number, severity: DiagnosticSeverity}[]} spans
 */
function renderMarked(tokens, spans) {
  let html = "";
  let offset = 0;
  for (const token of tokens) {
    const end = offset + token.text.length;
    // Cut the token at every span boundary inside it.
    const cuts = new Set([offset, end]);
    for (const s of spans) {
      if (s.from > offset && s.from < end) cuts.add(s.from);
      if (s.to > offset && s.to < end) cuts.add(s.to);
    }
    const points = [...cuts].sort((a, b) => a - b);
    for (let k = 0; k + 1 < points.length; k++) {
      const [a, b] = [points[k], points[k + 1]];
      const text = escapeHtml(token.text.slice(a - offset, b - offset));
      /** @type {DiagnosticSeverity | undefined} */
      let severity;
      for (const s of spans) if (s.from <= a && s.to >= b) severity = worse(severity, s.severity);
      const classes = [token.kind ? `tok-${token.kind}` : "", severity ? `squiggle squiggle-${severity}` : ""].filter(Boolean).join(" ");
      html += classes ? `<span class="${classes}">${text}</span>` : text;
    }
    offset = end;
  }
  return html;
}
