// Where the account's 2FA messages come from: its IMAP mailbox, Slack token and Twilio auth token (set here,
// never shown again), and the Twilio webhook URL to give Twilio.
import { api, errorBox, fill, h, notice, time } from "../lib.js";

const KINDS = { imap: "IMAP mailbox", slack: "Slack", twilio: "Twilio" };

function field(id, label, attributes = {}) {
  return [h("label", { for: id }, label), h("input", { id, name: id, required: true, ...attributes })];
}

// One form per source: its fields, sent as JSON to PUT /api/v1/accounts/current/message-sources/{kind}.
const FORMS = {
  imap: () => [
    field("imap-host", "Host", { placeholder: "imap.example.com" }),
    field("imap-port", "Port", { type: "number", value: "993", min: 1, max: 65535 }),
    field("imap-username", "User name"),
    field("imap-password", "Password", { type: "password", autocomplete: "new-password" }),
    h("label", { for: "imap-security" }, "Security"),
    h("select", { id: "imap-security", name: "imap-security" }, ["tls", "starttls", "none"].map((v) => h("option", { value: v }, v))),
    field("imap-folder", "Folder", { value: "INBOX" }),
  ],
  slack: () => [field("slack-token", "Bot token", { type: "password", autocomplete: "off", placeholder: "xoxb-…" })],
  twilio: () => [field("twilio-auth_token", "Auth token", { type: "password", autocomplete: "off" })],
};

function bodyOf(kind, form) {
  const body = {};
  for (const input of form.querySelectorAll("input, select")) {
    const name = input.id.slice(kind.length + 1);
    body[name] = input.type === "number" ? Number(input.value) : input.value;
  }
  return body;
}

export async function render(root) {
  document.title = "2FA messages · rebrowse";
  const message = h("div", { "aria-live": "polite" });
  const list = h("tbody");
  const webhook = h("code", { id: "twilio-webhook", class: "mono" });
  const refresh = async () => {
    const found = await api("/api/v1/accounts/current/message-sources");
    fill(webhook, found.twilio_webhook);
    fill(list, found.sources.length === 0
      ? h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No source yet: messages can still be posted to POST /api/v1/messages."))
      : found.sources.map((source) => h("tr", { "data-kind": source.kind },
        h("td", {}, KINDS[source.kind]), h("td", {}, source.detail), h("td", {}, time(source.updated_at)),
        h("td", {}, h("button", { type: "button", class: "danger small", onclick: () => remove(source.kind),
          "aria-label": `Remove ${KINDS[source.kind]}` }, "Remove")))));
  };
  async function remove(kind) {
    if (!confirm(`Remove the ${KINDS[kind]} source? Steps waiting on it will no longer get codes from it.`)) return;
    try {
      await api(`/api/v1/accounts/current/message-sources/${kind}`, { method: "DELETE" });
      fill(message, notice("success", `${KINDS[kind]} removed.`));
      await refresh();
    } catch (error) {
      fill(message, errorBox(error));
    }
  }
  const forms = Object.entries(FORMS).map(([kind, fields]) => {
    const form = h("form", { class: "card", "aria-label": `Set the ${KINDS[kind]}` },
      h("h3", {}, KINDS[kind]), fields(), h("button", { type: "submit" }, `Save ${KINDS[kind]}`));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api(`/api/v1/accounts/current/message-sources/${kind}`, { method: "PUT", body: bodyOf(kind, form) });
        form.reset();
        fill(message, notice("success", `${KINDS[kind]} saved (sealed; it is not shown again).`));
        await refresh();
      } catch (error) {
        fill(message, errorBox(error));
      }
    });
    return form;
  });
  fill(root,
    h("h1", {}, "2FA messages"),
    h("p", { class: "muted" }, "two_fa_action steps wait for codes in messages from these sources, or posted to POST /api/v1/messages."),
    message,
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Source", "Reads", "Set", ""].map((c) => h("th", { scope: "col" }, c)))),
      list)),
    h("p", {}, "Twilio SMS webhook of this account: ", webhook),
    h("div", { class: "columns" }, forms),
  );
  await refresh();
}
