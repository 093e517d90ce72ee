// One line to make a page's code blocks runnable:
//
//     <script type="module" src="https://coderun.example/client/upgrade.js"></script>
//
// Loads <coderun-snippet> and, once the page is parsed, turns every
// `<pre><code class="language-X">` into a snippet (see `upgradeCodeBlocks`
// in snippet.js for the options and the `data-*` attributes it reads).

import { upgradeCodeBlocks } from "./snippet.js";

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => upgradeCodeBlocks(), { once: true });
} else {
  upgradeCodeBlocks();
}
