// One automation: its versions, and a run form generated from its parameters (secure ones as secret fields).
import { api, cells, errorBox, fill, h, notice, section, time } from "../lib.js";

/** A form value back in the type of the automation's example value. */
function typed(text, example) {
  if (typeof example === "number" && text.trim() !== "" && !Number.isNaN(Number(text))) return Number(text);
  if (typeof example === "boolean" && (text === "true" || text === "false")) return text === "true";
  return text;
}

function inputFields(name, examples, given) {
  const values = given && given.length ? given : [examples[0] ?? ""];
  return values.map((value, i) => {
    const id = `input-${name}-${i}`;
    return h("div", { class: "field" },
      h("label", { for: id }, values.length > 1 ? `${name} [${i}]` : name),
      h("input", { id, name: `input:${name}`, value: String(value), autocomplete: "off" }));
  });
}

/** The string leaves of a secure parameter's declared reference, each a password field. */
function secretFields(name, reference, prefix = []) {
  return Object.entries(reference).flatMap(([key, value]) => {
    const path = [...prefix, key];
    if (value && typeof value === "object") return secretFields(name, value, path);
    if (typeof value !== "string") return [];
    const id = `secure-${name}-${path.join("-")}`;
    return [h("div", { class: "field" },
      h("label", { for: id }, `${name} · ${path.join(".")}`),
      h("input", { id, type: "password", autocomplete: "off", "data-secure": name, "data-path": path.join(".") }))];
  });
}

/** The secure parameters typed in, each the declared reference with the secret fields' values; empty ones are left out. */
function secureValues(form, declared) {
  const given = {};
  for (const [name, references] of Object.entries(declared)) {
    const fields = [...form.querySelectorAll("input[data-secure]")].filter((el) => el.dataset.secure === name);
    if (!fields.some((el) => el.value)) continue;
    const reference = structuredClone(references[0] ?? {});
    for (const el of fields) {
      const keys = el.dataset.path.split(".");
      const parent = keys.slice(0, -1).reduce((node, key) => node[key], reference);
      parent[keys[keys.length - 1]] = el.value;
    }
    given[name] = [reference];
  }
  return given;
}

function runForm(stored, rerun) {
  const declared = stored.automation.parameters || {};
  const inputsDeclared = declared.input_parameters || {};
  const secureDeclared = declared.secure_parameters || {};
  const problem = h("div", { "aria-live": "polite" });
  const unique = new Set(rerun?.unique_parameter_names || []);
  const form = h("form", { class: "card", id: "run" },
    h("h2", {}, "Run"),
    rerun && notice("info", `Re-running task ${rerun.task_id.slice(0, 8)} with its inputs.`,
      Object.keys(secureDeclared).length > 0 && " Secure values never come back from the server: enter them again, or leave them empty to use the automation's own."),
    Object.keys(inputsDeclared).length === 0 && h("p", { class: "muted" }, "This automation has no input parameters."),
    Object.entries(inputsDeclared).map(([name, examples]) => h("div", { class: "parameter" },
      inputFields(name, examples, rerun?.input_parameters?.[name]),
      h("label", { class: "inline" }, h("input", { type: "checkbox", name: "unique", value: name, checked: unique.has(name) }),
        ` ${name} is unique: one task at a time per value, like a login`))),
    Object.entries(secureDeclared).map(([name, references]) => h("fieldset", {},
      h("legend", {}, `${name} (secure)`),
      secretFields(name, references[0] ?? {}))),
    h("details", {},
      h("summary", {}, "More options"),
      h("label", { for: "run-priority" }, "Priority (lower runs first)"),
      h("input", { id: "run-priority", name: "priority", type: "number", step: 1, value: rerun?.priority ?? "" }),
      h("label", { for: "run-timeout" }, "Timeout per attempt (minutes)"),
      h("input", { id: "run-timeout", name: "timeout", type: "number", min: 0.1, step: "any", value: rerun?.max_timeout_in_minutes ?? 10 }),
      h("label", { for: "run-callback" }, "Callback URL"),
      h("input", { id: "run-callback", name: "callback", type: "url", autocomplete: "off",
        placeholder: stored.settings.callback_url ? `the automation's: ${stored.settings.callback_url}` : "" }),
      h("label", { for: "run-callback-key" }, "Callback API key"),
      h("input", { id: "run-callback-key", name: "callback_key", type: "password", autocomplete: "off" }),
      h("label", { class: "inline" }, h("input", { type: "checkbox", name: "reuse_session", checked: stored.settings.reuse_session }),
        " Warm session: start from the login's kept state, keep this run's if it succeeds"),
      h("label", { class: "inline" }, h("input", { type: "checkbox", name: "use_proxy", checked: stored.settings.use_proxy }),
        " Through the upstream proxy")),
    problem,
    h("button", { type: "submit" }, "Run"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      endpoint_name: stored.endpoint_name,
      input_parameters: Object.fromEntries(Object.entries(inputsDeclared).map(([name, examples]) =>
        [name, data.getAll(`input:${name}`).map((text) => typed(text, examples[0]))])),
      secure_parameters: secureValues(form, secureDeclared),
      unique_parameter_names: data.getAll("unique"),
      max_timeout_in_minutes: Number(data.get("timeout")) || 10,
      priority: data.get("priority") === "" ? null : Number(data.get("priority")),
      reuse_session: data.get("reuse_session") !== null,
      use_proxy: data.get("use_proxy") !== null,
    };
    if (data.get("callback")) body.task_callback_url = data.get("callback");
    if (data.get("callback_key")) body.task_callback_api_key = data.get("callback_key");
    try {
      const accepted = await api("/api/v1/inference", { method: "POST", body });
      location.assign(`/tasks/${accepted.task_id}`);
    } catch (error) {
      fill(problem, errorBox(error));
    }
  });
  return form;
}

function versions(stored) {
  const columns = ["Version", "Description", "Saved"];
  return h("div", { class: "table-wrap" }, h("table", { class: "cards" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, stored.versions.slice().reverse().map((v) => h("tr", {}, cells(columns, [
      [`v${v.version}`, v.version === stored.version && h("span", { class: "chip" }, "runs")],
      v.description || "",
      time(v.created_at),
    ], [0]))))));
}

function settingsLine(settings) {
  const proxy = settings.use_proxy ? `through proxy ${settings.proxy || "default"}` : "direct";
  const callback = settings.callback_url ? ` · callbacks to ${settings.callback_url}` : "";
  return `Defaults of its tasks: ${settings.reuse_session ? "warm sessions" : "no warm sessions"} · ${proxy}${callback}`;
}

/** The browser states its logins kept, each with a button that drops it (the login's next run signs in again). */
function keptSessions(kept) {
  if (kept.length === 0) return h("p", { class: "muted" }, "No kept session: runs with reuse_session keep one when they succeed.");
  const columns = ["Login", "Kept", "Expires", ""];
  return h("div", { class: "table-wrap" }, h("table", { class: "cards" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, kept.map((session) => {
      const drop = h("button", { type: "button", class: "secondary" }, "Drop");
      const row = h("tr", {}, cells(columns, [
        h("span", { class: "mono" }, JSON.stringify(session.unique_parameters)),
        h("a", { href: `/tasks/${session.task_id}` }, time(session.updated_at)),
        time(session.expires_at),
        drop,
      ]));
      drop.addEventListener("click", async () => {
        await api(`/api/v1/sessions/${session.session_id}`, { method: "DELETE" });
        row.remove();
      });
      return row;
    }))));
}

export async function render(root, endpointName) {
  document.title = `${endpointName} · rebrowse`;
  const rerunId = new URLSearchParams(location.search).get("rerun");
  const [stored, rerun, sessions] = await Promise.all([
    api(`/api/v1/automations/${encodeURIComponent(endpointName)}`),
    rerunId ? api(`/api/v1/tasks/${encodeURIComponent(rerunId)}`) : null,
    api("/api/v1/sessions"),
  ]);
  const kept = sessions.sessions.filter((session) => session.endpoint_name === stored.endpoint_name);
  const p = stored.parameters;
  fill(root,
    h("h1", {}, stored.endpoint_name, " ", h("span", { class: "muted" }, `v${stored.version}`)),
    stored.description && h("p", {}, stored.description),
    h("p", { class: "muted" }, `${stored.total_nodes} nodes · inputs: ${p.input_parameters.join(", ") || "none"} · secure: ${p.secure_parameters.join(", ") || "none"}`,
      " · ", h("a", { href: `/tasks?endpoint_name=${encodeURIComponent(stored.endpoint_name)}` }, "its tasks")),
    h("p", { class: "muted" }, settingsLine(stored.settings)),
    h("div", { class: "columns two" }, runForm(stored, rerun), section("Versions", versions(stored))),
    section("Kept sessions", keptSessions(kept)),
    section("Automation JSON", h("pre", { class: "json", tabIndex: 0 }, JSON.stringify(stored.automation, null, 2))),
  );
}
