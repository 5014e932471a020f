// Scheduled runs: the account's schedules (when each runs next, what its last run did), pause and resume, delete
// with confirmation, and a small form to add or replace one.
import { ApiError, api, badge, cells, errorBox, fill, h, note, notice, time } from "../lib.js";

const NAME_PATTERN = "[A-Za-z0-9_.\\-]{1,100}";
const COLUMNS = ["Name", "Automation", "When", "Next run", "Last run", "State", ""];

function lastRun(schedule) {
  if (!schedule.last_run_at) return "—";
  return h("span", {},
    time(schedule.last_run_at), " ",
    schedule.last_task_id && h("a", { href: `/tasks/${schedule.last_task_id}`, "aria-label": `Last task of ${schedule.name}` },
      badge(schedule.last_task_status || "queued")),
    schedule.last_error && h("div", {}, note("error", schedule.last_error)));
}

function actions(schedule, act) {
  const toggle = schedule.paused ? "resume" : "pause";
  return h("span", {},
    h("button", { type: "button", class: "secondary small", onclick: () => act(schedule, toggle),
      "aria-label": `${schedule.paused ? "Resume" : "Pause"} schedule ${schedule.name}` }, schedule.paused ? "Resume" : "Pause"),
    " ",
    h("button", { type: "button", class: "danger small", onclick: () => act(schedule, "delete"),
      "aria-label": `Delete schedule ${schedule.name}` }, "Delete"));
}

function rows(schedules, act) {
  if (schedules.length === 0) {
    return h("tr", {}, h("td", { colspan: COLUMNS.length, class: "muted" }, "No schedules yet: add one below."));
  }
  return schedules.map((s) => h("tr", { "data-schedule": s.name }, cells(COLUMNS, [
    s.name,
    h("a", { href: `/automations/${encodeURIComponent(s.endpoint_name)}` }, s.endpoint_name),
    h("span", {}, h("code", {}, s.cron), ` (${s.timezone})`),
    s.paused ? "—" : time(s.next_run_at),
    lastRun(s),
    s.paused ? "paused" : "active",
    actions(s, act),
  ])));
}

/** Input parameters from "name=value" lines (a name given twice gets both values, in order). */
function parseInputs(text) {
  const inputs = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    if (at < 1) throw new ApiError(400, `Inputs, line ${index + 1}: expected name=value, got "${line}"`);
    const name = line.slice(0, at).trim();
    (inputs[name] ||= []).push(line.slice(at + 1).trim());
  }
  return inputs;
}

function form(automations, saved) {
  const name = h("input", { id: "schedule-name", required: true, pattern: NAME_PATTERN, autocomplete: "off", placeholder: "nightly-report" });
  const endpoint = h("select", { id: "schedule-endpoint", required: true },
    automations.map((a) => h("option", { value: a.endpoint_name }, a.endpoint_name)));
  const cron = h("input", { id: "schedule-cron", required: true, value: "0 9 * * 1-5", autocomplete: "off", class: "mono" });
  const zone = h("input", { id: "schedule-timezone", required: true, autocomplete: "off",
    value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  const inputs = h("textarea", { id: "schedule-inputs", rows: 3, spellcheck: false, placeholder: "query=invoice" });
  const message = h("div", { "aria-live": "polite" });
  const element = h("form", { class: "card", id: "new-schedule" },
    h("h2", {}, "Add or replace a schedule"),
    h("label", { for: "schedule-name" }, "Name"), name,
    h("label", { for: "schedule-endpoint" }, "Automation"), endpoint,
    h("label", { for: "schedule-cron" }, "Cron (minute hour day-of-month month day-of-week)"), cron,
    h("label", { for: "schedule-timezone" }, "Time zone (IANA, e.g. Europe/Paris)"), zone,
    h("label", { for: "schedule-inputs" }, "Inputs (one name=value a line)"), inputs,
    h("button", { type: "submit" }, "Save schedule"),
    message);
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = { endpoint_name: endpoint.value, cron: cron.value, timezone: zone.value, input_parameters: parseInputs(inputs.value) };
      const schedule = await api(`/api/v1/schedules/${encodeURIComponent(name.value)}`, { method: "PUT", body });
      fill(message, notice("success", `Schedule ${schedule.name} saved.`));
      await saved();
    } catch (error) {
      fill(message, errorBox(error));
    }
  });
  return element;
}

export async function render(root) {
  document.title = "Schedules · rebrowse";
  const body = h("tbody");
  const message = h("div", { "aria-live": "polite" });
  const refresh = async () => fill(body, rows((await api("/api/v1/schedules")).schedules, act));
  async function act(schedule, action) {
    if (action === "delete" && !confirm(`Delete the schedule "${schedule.name}"? The tasks it submitted stay.`)) return;
    const path = `/api/v1/schedules/${encodeURIComponent(schedule.name)}`;
    try {
      if (action === "delete") await api(path, { method: "DELETE" });
      else await api(`${path}/${action}`, { method: "POST" });
      fill(message);
      await refresh();
    } catch (error) {
      fill(message, errorBox(error));
    }
  }
  const automations = (await api("/api/v1/automations")).automations;
  fill(root,
    h("h1", {}, "Schedules"),
    h("p", { class: "muted" }, "Each schedule submits a task of its automation at every minute its cron expression matches in its time zone. A tick missed while no API process ran is skipped, as cron does; a paused schedule fires nothing."),
    message,
    h("div", { class: "table-wrap" }, h("table", { class: "cards schedules" },
      h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
      body)),
    automations.length > 0
      ? form(automations, refresh)
      : h("p", { class: "muted" }, "Add an automation first: a schedule runs one of your automations."),
  );
  await refresh();
}
