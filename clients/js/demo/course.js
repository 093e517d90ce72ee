// The demo course page's own behaviour: the colour theme switch, the code
// runner's status in the header, and the table of contents that follows the
// reader. The snippets need none of it; it is what a course site might add.

import { clientFor } from "/client/snippet.js";

const THEMES = ["auto", "light", "dark"];
const themeButton = /** @type {HTMLButtonElement} */ (document.getElementById("theme"));

/** @param {string} theme */
function applyTheme(theme) {
  if (theme === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.dataset.theme = theme;
  for (const snippet of document.querySelectorAll("coderun-snippet")) {
    if (theme === "auto") snippet.removeAttribute("theme");
    else snippet.setAttribute("theme", theme);
  }
  const name = theme[0].toUpperCase() + theme.slice(1);
  themeButton.querySelector(".theme-name").textContent = name;
  themeButton.setAttribute("aria-label", `Colour theme: ${theme === "auto" ? "automatic" : theme}`);
}

let theme = localStorage.getItem("course-theme") ?? "auto";
if (!THEMES.includes(theme)) theme = "auto";
applyTheme(theme);
themeButton.addEventListener("click", () => {
  theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  localStorage.setItem("course-theme", theme);
  applyTheme(theme);
});

// The snippets share this client (one connection per page).
const client = clientFor(location.origin);
const chip = document.getElementById("server");
const chipText = chip.querySelector(".server-text");

function showServer() {
  chip.dataset.state = client.state;
  if (client.state === "open") {
    const names = client.languages.map((l) => `${l.name.replace(/ \(.*\)$/, "")} ${l.version.split(".").slice(0, 2).join(".")}`);
    chipText.textContent = `Code runner ready · ${names.slice(0, 3).join(", ")}${names.length > 3 ? ` +${names.length - 3} more` : ""}`;
    chip.title = names.join("\n");
  } else if (client.state === "retrying") {
    chipText.textContent = "Code runner unreachable, retrying…";
  } else if (client.state === "failed") {
    chipText.textContent = "The code runner refused this page";
  } else if (client.state === "connecting") {
    chipText.textContent = "Connecting to the code runner…";
  }
}
client.on("state", showServer);
showServer();

// Highlight the section being read in the table of contents.
const links = new Map([...document.querySelectorAll(".toc a")].map((a) => [a.getAttribute("href").slice(1), a]));
const visible = new Set();
const observer = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) visible.add(entry.target.id);
      else visible.delete(entry.target.id);
    }
    const current = [...links.keys()].find((id) => visible.has(id));
    if (!current) return;
    for (const [id, link] of links) link.setAttribute("aria-current", String(id === current));
  },
  { rootMargin: "-80px 0px -55% 0px" },
);
for (const id of links.keys()) {
  const section = document.getElementById(id);
  if (section) observer.observe(section);
}
