// The account's API keys: create one (its value is shown once), list them, revoke one.
import { api, cells, errorBox, fill, h, notice, time } from "../lib.js";

const COLUMNS = ["Name", "Key", "Created", "Last used", "Status"];

function keyRows(keys, session, revoke) {
  return keys.map((key) => h("tr", { "data-key-id": key.id }, cells(COLUMNS, [
    [key.name, key.role !== "member" && h("span", { class: "chip" }, key.role),
      key.id === session.key_id && h("span", { class: "chip", title: "The key this dashboard is signed in with" }, "this session")],
    h("span", { class: "mono" }, `${key.prefix}…`),
    time(key.created_at),
    time(key.last_used_at),
    key.revoked_at
      ? ["revoked ", time(key.revoked_at)]
      : h("button", { type: "button", class: "danger small", onclick: () => revoke(key),
        "aria-label": `Revoke key ${key.name} (${key.prefix}…)` }, "Revoke"),
  ])));
}

export async function render(root) {
  document.title = "API keys · rebrowse";
  const body = h("tbody");
  const message = h("div", { "aria-live": "polite" });
  const session = await api("/api/v1/session");
  const refresh = async () => fill(body, keyRows((await api("/api/v1/keys")).keys, session, revoke));
  async function revoke(key) {
    const yours = key.id === session.key_id
      ? " You are signed in with this key: revoking it signs you out of the dashboard." : "";
    if (!confirm(`Revoke the key "${key.name}" (${key.prefix}…)? Anything using it stops working at once.${yours}`)) return;
    try {
      await api(`/api/v1/keys/${key.id}`, { method: "DELETE" });
      fill(message, notice("success", `Key ${key.name} revoked.`));
      await refresh();  // when it was this session's key, the API answers 401 and the page goes to sign-in
    } catch (error) {
      fill(message, errorBox(error));
    }
  }
  const name = h("input", { id: "key-name", name: "name", required: true, maxLength: 100, value: "dashboard" });
  const form = h("form", { class: "card inline-form" },
    h("label", { for: "key-name" }, "Name of the new key"), name,
    h("button", { type: "submit" }, "Create key"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const created = await api("/api/v1/keys", { method: "POST", body: { name: name.value } });
      fill(message, h("div", { class: "card shown-once", role: "status" },
        h("p", {}, h("strong", {}, "Your new key. "), "Copy it now: it is shown once and only its hash is stored."),
        h("input", { id: "new-key", class: "mono", readOnly: true, value: created.api_key, "aria-label": "The new API key",
          onfocus: (e) => e.target.select() })));
      await refresh();
      message.querySelector("#new-key").focus();
    } catch (error) {
      fill(message, errorBox(error));
    }
  });
  fill(root,
    h("h1", {}, "API keys"),
    form,
    message,
    h("div", { class: "table-wrap" }, h("table", { class: "cards" },
      h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
      body)),
  );
  await refresh();
}
