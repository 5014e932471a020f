// The dashboard's entry: find the page for the address, check the session, render.
import { api, errorBox, fill, h } from "./lib.js";

const PAGES = [
  [/^\/sign-in$/, "./pages/sign-in.js"],
  [/^\/tasks$/, "./pages/tasks.js"],
  [/^\/tasks\/([^/]+)$/, "./pages/task.js"],
  [/^\/automations$/, "./pages/automations.js"],
  [/^\/automations\/([^/]+)$/, "./pages/automation.js"],
  [/^\/recordings$/, "./pages/recording.js"],
  [/^\/recordings\/([^/]+)$/, "./pages/recording.js"],
  [/^\/keys$/, "./pages/keys.js"],
  [/^\/messages$/, "./pages/messages.js"],
  [/^\/proxies$/, "./pages/proxies.js"],
  [/^\/schedules$/, "./pages/schedules.js"],
];

async function signOut() {
  await api("/api/v1/session", { method: "DELETE" });
  location.assign("/sign-in");
}

function showNavigation(session) {
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const link of nav.querySelectorAll("a")) {
    const here = location.pathname === link.pathname || location.pathname.startsWith(`${link.pathname}/`);
    if (here) link.setAttribute("aria-current", "page");
  }
  document.getElementById("who").textContent = session.account_name;
  const button = document.getElementById("sign-out");
  button.hidden = false;
  button.addEventListener("click", signOut);
}

/** An address no page answers (the server says 404 too): in words, with the way back. */
function notFound() {
  document.title = "Not found · rebrowse";
  return h("div", { class: "card narrow" },
    h("h1", {}, "Not found"),
    h("p", {}, "There is no page at ", h("code", { class: "wrap" }, location.pathname), "."),
    h("p", {}, h("a", { href: "/" }, "Go to the dashboard's home")));
}

async function main() {
  const root = document.getElementById("main");
  const found = PAGES.find(([pattern]) => pattern.test(location.pathname));
  if (!found) return fill(root, notFound());
  const [pattern, module] = found;
  const params = location.pathname.match(pattern).slice(1).map(decodeURIComponent);
  try {
    if (module !== "./pages/sign-in.js") showNavigation(await api("/api/v1/session"));
    const page = await import(module);
    await page.render(root, ...params);
  } catch (error) {
    fill(root, errorBox(error));
  }
}

main();
