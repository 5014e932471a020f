// One automation: a run form generated from its parameters in their declared order (secure ones as secret fields),
// its versions with diffs and rollbacks, its runs over time.
import { api, cells, errorBox, fill, h, notice, section, svg, time } from "../lib.js";

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

const path = (stored, ...rest) => ["/api/v1/automations", encodeURIComponent(stored.endpoint_name), ...rest].join("/");

/** Its versions, newest first: any two picked as "from" and "to" show their diff; an older one can be rolled back to. */
function versions(stored) {
  const shown = h("div", { "aria-live": "polite" });
  const columns = ["From", "To", "Version", "Description", "Saved", ""];
  const picker = (side, v, checked) => h("input", {
    type: "radio", name: `diff-${side}`, value: v.version, checked, "aria-label": `Compare ${side} v${v.version}`,
  });
  const [newest, previous] = stored.versions;
  const rows = stored.versions.map((v) => h("tr", {}, cells(columns, [
    picker("from", v, v === (previous ?? newest)),
    picker("to", v, v === newest),
    [`v${v.version}`, v.version === stored.version && h("span", { class: "chip" }, "runs")],
    v.description || "",
    time(v.created_at),
    v.version !== stored.version && h("button", {
      type: "button", class: "secondary", onclick: () => rollBack(stored, v.version, shown),
    }, "Roll back to this version"),
  ], [2])));
  const form = h("form", { class: "versions" },
    h("div", { class: "table-wrap" }, h("table", { class: "cards" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows))),
    stored.versions.length > 1 && h("button", { type: "submit" }, "Show the diff"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const query = new URLSearchParams({ from_version: data.get("diff-from"), to_version: data.get("diff-to") });
    try {
      fill(shown, diffView(await api(`${path(stored, "diff")}?${query}`)));
    } catch (error) {
      fill(shown, errorBox(error));
    }
  });
  return [form, shown];
}

/** A diff as a person reads it: added lines green, removed ones red, then description and settings changes. */
function diffView(diff) {
  const kind = (line) => (line.startsWith("+++") || line.startsWith("---") ? "file"
    : { "+": "added", "-": "removed", "@": "hunk" }[line[0]] ?? "same");
  const lines = diff.diff.split("\n").filter((line, i, all) => line !== "" || i < all.length - 1);
  const same = !diff.diff && diff.changes.length === 0 && !diff.secure_values_changed;
  return h("div", { class: "diff-result" },
    h("h3", {}, `v${diff.from_version} → v${diff.to_version}`),
    same && h("p", { class: "muted" }, "The two versions are the same."),
    diff.diff && h("pre", { class: "diff", tabIndex: 0 }, lines.map((line) => h("span", { class: `diff-${kind(line)}` }, line, "\n"))),
    diff.changes.length > 0 && h("ul", { class: "changes" }, diff.changes.map((c) =>
      h("li", {}, h("code", {}, c.field), `: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`))),
    diff.secure_values_changed && h("p", { class: "muted" }, "The secure parameters' values changed (sealed: never shown)."));
}

async function rollBack(stored, version, shown) {
  if (!confirm(`Roll back ${stored.endpoint_name} to version ${version}? This stores a new version equal to it; every version stays.`)) return;
  try {
    await api(path(stored, "rollback"), { method: "POST", body: { version } });
    location.reload();
  } catch (error) {
    fill(shown, errorBox(error));
  }
}

function deleteButton(stored) {
  const problem = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button", class: "danger" }, "Delete automation");
  button.addEventListener("click", async () => {
    if (!confirm(`Delete ${stored.endpoint_name} with all its versions? Tasks already submitted still run.`)) return;
    try {
      await api(path(stored), { method: "DELETE" });
      location.assign("/automations");
    } catch (error) {
      fill(problem, errorBox(error));
    }
  });
  return [button, problem];
}

const seconds = (s) => (s === null ? "—" : s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

/** A bar per day, its height the day's runs: succeeded, failed and cancelled stacked, each bar titled with its figures. */
function runsChart(runs) {
  const most = Math.max(1, ...runs.per_day.map((d) => d.total));
  const width = 10;
  const height = 60;
  const bars = runs.per_day.map((day, i) => {
    let top = height;
    const part = (count, kind) => {
      const size = (count / most) * height;
      top -= size;
      return count > 0 && svg("rect", { x: i * width + 1, y: top, width: width - 2, height: size, class: `bar-${kind}` });
    };
    const title = `${day.day}: ${day.total} runs, ${day.succeeded} succeeded, ${day.failed} failed, ${day.cancelled} cancelled`
      + (day.median_duration_s === null ? "" : `, median ${seconds(day.median_duration_s)}`);
    return svg("g", { "data-day": day.day },
      svg("title", {}, title),
      svg("rect", { x: i * width, y: 0, width, height, class: "bar-hit" }),
      part(day.succeeded, "succeeded"), part(day.failed, "failed"), part(day.cancelled, "cancelled"));
  });
  return svg("svg", {
    class: "runs-chart", viewBox: `0 0 ${runs.per_day.length * width} ${height}`, preserveAspectRatio: "none",
    role: "img", "aria-label": `Runs per day over the last ${runs.days} days, at most ${most} a day`,
  }, bars);
}

function runsOverTime(stored, runs) {
  const rate = runs.success_rate === null ? "—" : `${Math.round(runs.success_rate * 100)}%`;
  const failure = runs.last_failure;
  return [
    runsChart(runs),
    h("p", { class: "legend muted" },
      h("span", { class: "key key-succeeded" }), " succeeded ", h("span", { class: "key key-failed" }), " failed ",
      h("span", { class: "key key-cancelled" }), " cancelled · oldest day on the left, today on the right"),
    h("dl", { class: "facts runs-facts" },
      h("dt", {}, "Runs"), h("dd", {}, `${runs.total} in ${runs.days} days (${runs.succeeded} succeeded, ${runs.failed} failed, ${runs.cancelled} cancelled)`),
      h("dt", {}, "Success rate"), h("dd", {}, rate),
      h("dt", {}, "Duration"), h("dd", {}, `median ${seconds(runs.median_duration_s)} · p95 ${seconds(runs.p95_duration_s)}`),
      h("dt", {}, "Last failure"), h("dd", {}, failure === null ? "none" : [
        h("a", { href: `/tasks/${failure.task_id}` }, time(failure.failed_at)), ` (v${failure.version}) `,
        h("span", { class: "mono" }, failure.error || "no error message"),
      ])),
  ];
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
  const [stored, rerun, sessions, runs] = await Promise.all([
    api(`/api/v1/automations/${encodeURIComponent(endpointName)}`),
    rerunId ? api(`/api/v1/tasks/${encodeURIComponent(rerunId)}`) : null,
    api("/api/v1/sessions"),
    api(`/api/v1/automations/${encodeURIComponent(endpointName)}/runs?days=30`),
  ]);
  const kept = sessions.sessions.filter((session) => session.endpoint_name === stored.endpoint_name);
  const p = stored.parameters;
  fill(root,
    h("h1", {}, stored.endpoint_name, " ", h("span", { class: "muted" }, `v${stored.version}`)),
    stored.description && h("p", {}, stored.description),
    h("p", { class: "muted" }, `${stored.total_nodes} nodes · inputs: ${p.input_parameters.join(", ") || "none"} · secure: ${p.secure_parameters.join(", ") || "none"}`,
      " · ", h("a", { href: `/tasks?endpoint_name=${encodeURIComponent(stored.endpoint_name)}` }, "its tasks")),
    h("p", { class: "muted" }, settingsLine(stored.settings)),
    h("div", { class: "columns two" }, runForm(stored, rerun), section("Runs over time", runsOverTime(stored, runs))),
    section("Versions", versions(stored)),
    section("Kept sessions", keptSessions(kept)),
    section("Automation JSON", h("pre", { class: "json", tabIndex: 0 }, JSON.stringify(stored.automation, null, 2))),
    section("Delete", h("p", { class: "muted" }, "Deleting removes every version; tasks already submitted still run."), deleteButton(stored)),
  );
}
