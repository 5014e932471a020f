// The account's upstream proxies: tasks with use_proxy go through one. Add or replace one, list them (never a
// password), delete one.
import { api, errorBox, fill, h, notice, time } from "../lib.js";

function proxyRows(proxies, remove) {
  return proxies.map((proxy) => h("tr", { "data-proxy": proxy.name },
    h("td", {}, proxy.name, proxy.name === "default" && h("span", { class: "chip" }, "default")),
    h("td", { class: "mono" }, proxy.url),
    h("td", {}, proxy.bypass.join(", ") || "—"),
    h("td", {}, time(proxy.updated_at)),
    h("td", {}, h("button", { type: "button", class: "danger small", onclick: () => remove(proxy),
      "aria-label": `Delete proxy ${proxy.name}` }, "Delete"))));
}

export async function render(root) {
  document.title = "Proxies · rebrowse";
  const body = h("tbody");
  const message = h("div", { "aria-live": "polite" });
  const refresh = async () => fill(body, proxyRows((await api("/api/v1/proxies")).proxies, remove));
  async function remove(proxy) {
    if (!confirm(`Delete the proxy "${proxy.name}"? Tasks of automations that name it then fail.`)) return;
    try {
      await api(`/api/v1/proxies/${encodeURIComponent(proxy.name)}`, { method: "DELETE" });
      await refresh();
    } catch (error) {
      fill(message, errorBox(error));
    }
  }
  const name = h("input", { id: "proxy-name", name: "name", required: true, maxLength: 100, value: "default" });
  // The URL holds the password: typed into a password field, never shown again.
  const url = h("input", { id: "proxy-url", name: "url", type: "password", required: true, autocomplete: "off",
    placeholder: "http://USER:PASSWORD@HOST:PORT" });
  const bypass = h("input", { id: "proxy-bypass", name: "bypass", placeholder: "intranet.example, 10.0.0.0/8" });
  const form = h("form", { class: "card" },
    h("label", { for: "proxy-name" }, "Name"), name,
    h("label", { for: "proxy-url" }, "URL ({session_id} in the user name: each task's sticky session)"), url,
    h("label", { for: "proxy-bypass" }, "Bypass (comma-separated hosts, addresses, networks)"), bypass,
    h("button", { type: "submit" }, "Save proxy"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { url: url.value, bypass: bypass.value.split(",").map((s) => s.trim()).filter(Boolean) };
    try {
      await api(`/api/v1/proxies/${encodeURIComponent(name.value)}`, { method: "PUT", body });
      url.value = "";
      fill(message, notice("success", `Proxy ${name.value} saved.`));
      await refresh();
    } catch (error) {
      fill(message, errorBox(error));
    }
  });
  fill(root,
    h("h1", {}, "Proxies"),
    h("p", { class: "muted" }, "Tasks with use_proxy go through the proxy their automation's settings name, else \"default\", else the server's REBROWSE_PROXY_URL. The egress policy still decides what they may reach."),
    form,
    message,
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Name", "URL", "Bypass", "Saved", ""].map((c) => h("th", { scope: "col" }, c)))),
      body)),
  );
  await refresh();
}
