// Sign in with an API key: the server keeps a sealed session cookie, never the key.
import { api, errorBox, fill, h } from "../lib.js";

/** Where to go once signed in: the page that asked for it, never another site. */
function nextPage() {
  const next = new URL(new URLSearchParams(location.search).get("next") || "/tasks", location.origin);
  return next.origin === location.origin ? next.pathname + next.search : "/tasks";
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
