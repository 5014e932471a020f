// Sign in with an API key: the server keeps a sealed session cookie, never the key.
import { api, errorBox, fill, h } from "../lib.js";

// A path of this site: one slash first, then no slash or backslash right after it, and no backslash or control
// character anywhere (the URL parser drops tabs and newlines and reads a backslash as a slash).
const LOCAL_PATH = /^\/(?![/\\])[^\\\u0000-\u001f\u007f]*$/;

/** Where to go once signed in: the page of this site that asked for it, never another site. */
function nextPage() {
  const asked = new URLSearchParams(location.search).get("next") || "/tasks";
  if (!LOCAL_PATH.test(asked)) return "/tasks";
  const next = new URL(asked, location.origin);
  // Dot segments collapse: "/.//host/x" is the path "//host/x", which location.assign reads as another site.
  if (next.origin !== location.origin || next.pathname.startsWith("//")) return "/tasks";
  return next.pathname + next.search;
}

export function render(root) {
  document.title = "Sign in · rebrowse";
  const problem = h("div", { "aria-live": "polite" });
  const key = h("input", { id: "api-key", name: "api_key", type: "password", required: true, autocomplete: "off" });
  const form = h("form", { class: "card narrow" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Use an API key of your account (rebrowse serve prints one when it starts)."),
    h("label", { for: "api-key" }, "API key"),
    key,
    problem,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/api/v1/session", { method: "POST", body: { api_key: key.value.trim() } });
      location.assign(nextPage());
    } catch (error) {
      fill(problem, errorBox(error));
      key.focus();
    }
  });
  fill(root, form);
  key.focus();
}
