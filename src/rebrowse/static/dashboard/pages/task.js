// One task: inputs, timeline, steps, outputs, files, callbacks; its live view while it runs; updated in place.
import { LiveView } from "../live.js";
import {
  ACTIVE, api, badge, bytes, cells, duration, errorBox, fill, h, local, note, notice, poll, section, time,
} from "../lib.js";

const REFRESH_MS = 1500;
const MASK = "••••••••";

async function load(taskId) {
  const [task, steps, callbacks] = await Promise.all([
    api(`/api/v1/tasks/${taskId}`),
    api(`/api/v1/tasks/${taskId}/steps`),
    api(`/api/v1/tasks/${taskId}/callbacks`),
  ]);
  return { task, steps: steps.steps, trace: steps.trace, callbacks: callbacks.callbacks };
}

/** The automation's declared parameters: its inputs with their defaults, and the names of its secure ones. */
async function declared(endpointName) {
  const none = { defaults: {}, secure: [] };
  if (!endpointName) return none;  // a recording's draft, run once: its inputs are all in the request
  try {
    const found = await api(`/api/v1/automations/${encodeURIComponent(endpointName)}`);
    return { defaults: found.automation.parameters?.input_parameters || {}, secure: found.parameters.secure_parameters };
  } catch {
    return none;  // the automation was deleted since: its tasks are still shown
  }
}

function facts(task) {
  const rows = [
    ["Automation", task.endpoint_name
      ? h("a", { href: `/automations/${encodeURIComponent(task.endpoint_name)}` }, `${task.endpoint_name} v${task.automation_version}`)
      : "a recording's draft, run once (not saved)"],
    task.schedule_name && ["Schedule", h("a", { href: "/schedules" }, task.schedule_name)],
    ["Created", time(task.created_at)],
    ["Started", time(task.started_at)],
    ["Completed", time(task.completed_at)],
    ["Duration", duration(task.started_at, task.completed_at)],
    ["Retries", task.retry_count],
    ["Worker", task.worker_name || "—"],
    ["Priority", task.priority ?? "none"],
    ["Timeout", `${task.max_timeout_in_minutes} min per attempt`],
    task.llm_usage && task.llm_usage.calls > 0 && ["LLM", llmTotals(task.llm_usage)],
    ["Session", sessionFact(task)],
    ["Proxy", proxyFact(task)],
  ].filter(Boolean);
  return h("dl", { class: "facts" }, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

/** Whether the run started from the state its login's last successful run kept (warm session). */
function sessionFact(task) {
  if (task.session_reused) return h("span", {}, h("span", { class: "chip" }, "warm"), " started from its login's kept state");
  if (task.reuse_session) return "started fresh; its state is kept if it succeeds";
  return task.reuse_session === false ? "not kept" : "the automation's setting";
}

function proxyFact(task) {
  if (task.use_proxy === null) return "the automation's setting";
  if (!task.use_proxy) return "direct";
  return task.proxy_session_id ? `upstream proxy, session ${task.proxy_session_id}` : "upstream proxy";
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** The task's LLM calls in all: "3 calls (1 failed), 1204 tokens in, 87 out". */
function llmTotals(usage) {
  const failed = usage.failed_calls > 0 ? ` (${usage.failed_calls} failed)` : "";
  return `${plural(usage.calls, "call")}${failed}, ${plural(usage.input_tokens, "token")} in, ${usage.output_tokens} out`;
}

/** The steps whose failed command the model replaced (none before the task ends). */
const healedSteps = (task) => task.healed || [];

const healedBadge = () => h("span", { class: "badge badge-healed", title: "A failed command was replaced by the model" }, "healed");

/** A healing in words: the failed command and its error, then the command that replaced it. */
function healing(change) {
  return [
    h("span", { class: "mono wrap" }, change.failed_command), " failed: ", note("error", change.error),
    " → now ", h("span", { class: "mono wrap" }, change.command),
  ];
}

/** The healed steps of the task, each with what failed and what replaced it; nothing when none was healed. */
function healedList(task) {
  const steps = healedSteps(task);
  if (steps.length === 0) return null;
  return [
    h("p", {}, healedBadge(), " ", `The model healed ${plural(steps.length, "step")} whose command failed; the run went on.`),
    h("ul", { class: "healed" }, steps.map((step) => h("li", {}, h("span", { class: "mono" }, step.path), ": ", healing(step)))),
  ];
}

/** What the run wrote with the model's steps made deterministic: the "fixed" version when the model healed a
 * step, the "cached" one when it only found elements or acted as an agent. */
const cachedKind = (task) => (healedSteps(task).length > 0 ? "fixed version" : "cached version");

/** The offer of the cached automation: view it, or save it as the automation's next version (`saved`: the
 * version it was saved as, once it was). */
function fixedVersion(task, saved, save) {
  if (!task.cached_automation_url) return null;
  const kind = cachedKind(task);
  const automation = `/automations/${encodeURIComponent(task.endpoint_name)}`;
  return [
    h("p", {}, `${task.endpoint_name} v${task.automation_version} as this run performed it, with a fixed command`,
      " for each step the model did: replaying it asks no model."),
    h("div", { class: "actions" },
      h("a", { class: "button secondary", href: local(task.cached_automation_url), target: "_blank" }, `View ${kind}`),
      saved
        ? notice("success", "Saved as ", h("a", { href: automation }, `${task.endpoint_name} v${saved}`))
        : h("button", { type: "button", onclick: save }, `Save as version ${task.automation_version + 1}`)),
  ];
}

/** The inputs the run used: those the request gave, then the automation's defaults for the others (the engine
 * fills them the same way), then the secure ones, masked. */
function inputs(task, { defaults, secure }) {
  const given = Object.entries(task.input_parameters).map(([name, values]) => [name, values, false]);
  const fromDefaults = Object.entries(defaults).filter(([name]) => !(name in task.input_parameters))
    .map(([name, values]) => [name, values, true]);
  const rows = [...given, ...fromDefaults].map(([name, values, isDefault]) =>
    h("tr", {}, h("th", { scope: "row" }, name,
      task.unique_parameter_names.includes(name) && h("span", { class: "chip" }, "unique"),
      isDefault && h("span", { class: "chip", title: "Not in the request: the automation's default" }, "default")),
    h("td", { class: "mono wrap" }, values.map((v) => JSON.stringify(v)).join(", "))));
  const masked = secure.map((name) =>
    h("tr", {}, h("th", { scope: "row" }, name, h("span", { class: "chip" }, "secure")),
      h("td", { class: "mono masked", title: "A secure value: never shown" }, MASK)));
  if (rows.length + masked.length === 0) return h("p", { class: "muted" }, "No parameters.");
  return h("table", { class: "kv" }, h("tbody", {}, rows, masked));
}

/** The attempts seen in the step records: number, start, and how each went. */
function attempts(task, steps) {
  const byAttempt = new Map();
  for (const step of steps) {
    if (!byAttempt.has(step.attempt)) byAttempt.set(step.attempt, []);
    byAttempt.get(step.attempt).push(step);
  }
  const last = Math.max(0, ...byAttempt.keys());
  return [...byAttempt.entries()].map(([number, records]) => {
    const failed = records.find((s) => s.outcome === "failed");
    const running = number === last && ACTIVE.includes(task.status);
    return {
      label: `Attempt ${number}`,
      at: records[0].started_at,
      note: !failed && (running ? "in progress" : "completed"),
      problem: failed && `failed at ${failed.path}: ${failed.error || "step failed"}`,
    };
  });
}

function timeline(task, steps) {
  const events = [
    { label: "Queued", at: task.created_at },
    task.allocated_at && { label: "Allocated", at: task.allocated_at, note: task.worker_name && `to ${task.worker_name}` },
    task.started_at && { label: "Running", at: task.started_at },
    ...attempts(task, steps),
    task.completed_at && ending(task),
  ].filter(Boolean);
  if (!task.completed_at && task.error) events.push({ label: "Requeued", problem: task.error, kind: "warning" });
  return h("ol", { class: "timeline" }, events.map((e) => h("li", {},
    e.status ? badge(e.status) : h("strong", {}, e.label), " ", e.at ? time(e.at) : "",
    e.note && h("div", { class: "muted" }, e.note),
    e.problem && h("div", {}, note(e.kind || "error", e.problem)))));
}

/** How the task ended: a cancel someone asked for is said plainly, not as a failure. */
function ending(task) {
  const kind = task.status === "cancelled" ? "info" : "error";
  return { label: task.status, at: task.completed_at, problem: task.error, status: task.status, kind };
}

const STEP_COLUMNS = ["#", "Attempt", "Node", "Action", "Locator", "Started", "Duration", "Outcome", "Screenshot"];

function stepScreenshot(step) {
  if (!step.screenshot) return "—";
  const url = local(step.screenshot);
  return h("a", { href: url, target: "_blank" },
    h("img", { src: url, alt: `Screenshot after step ${step.index}`, class: "thumb", loading: "lazy" }));
}

function stepRows(steps) {
  if (steps.length === 0) return h("p", { class: "muted" }, "No steps recorded yet.");
  return h("div", { class: "table-wrap" }, h("table", { class: "steps cards" },
    h("thead", {}, h("tr", {}, STEP_COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, steps.map((step) => [
      h("tr", { class: "step" }, cells(STEP_COLUMNS, [
        step.index,
        step.attempt,
        h("span", { class: "mono" }, step.path, step.iteration !== null && ` (iteration ${step.iteration})`),
        step.action,
        h("span", { class: "mono wrap" }, step.locator || "—"),
        time(step.started_at),
        `${Math.round(step.duration_ms)} ms`,
        [badge(step.outcome), step.healed && [" ", healedBadge()]],
        stepScreenshot(step),
      ], [0, 1, 6])),
      (step.error || step.detail || step.blocked.length > 0 || pageLog(step).length > 0) && h("tr", { class: "step-note" },
        h("td", { colSpan: STEP_COLUMNS.length }, stepNote(step))),
      step.healed && h("tr", { class: "step-note step-healed" },
        h("td", { colSpan: STEP_COLUMNS.length }, h("strong", {}, "Healed: "), healing(step.healed))),
      llmCalls(step).length > 0 && h("tr", { class: "step-note step-llm" },
        h("td", { colSpan: STEP_COLUMNS.length }, h("ul", { class: "llm-calls" }, llmCalls(step).map(llmCall)))),
    ])),
  ));
}

function stepNote(step) {
  const said = step.error ? note("error", step.error) : step.detail;
  const blocked = step.blocked.length > 0 && note("warning", `Blocked by the egress policy: ${step.blocked.join(", ")}`);
  const parts = [said, blocked].filter(Boolean);
  return [parts.flatMap((part, i) => (i === 0 ? [part] : [h("br"), part])), pageLog(step)];
}

/** What the step's pages logged to the console and the requests that failed (none in older records). */
function pageLog(step) {
  const lines = [
    ...(step.console || []).map((line) => h("li", { class: "mono wrap" }, `console ${line}`)),
    ...(step.failed_requests || []).map((line) => h("li", { class: "mono wrap note note-error" }, `request failed: ${line}`)),
  ];
  return lines.length > 0 ? [h("ul", { class: "page-log" }, lines)] : [];
}

/** Playwright's trace viewer on the task's trace (served by the API, offline), when the run kept one. */
function traceLink(trace) {
  if (!trace) return null;
  // The viewer fetches the trace with this page's session cookie: its URL on this page's own origin.
  const viewer = `/trace-viewer/index.html?trace=${encodeURIComponent(location.origin + local(trace))}`;
  return h("p", { class: "actions" }, h("a", { class: "button secondary trace-link", href: viewer, target: "_blank" },
    "Open the trace"), " ", h("span", { class: "muted" }, "every action with DOM snapshots, console and network"));
}

/** The step's questions to a model (records written before they existed have none). */
const llmCalls = (step) => step.llm_calls || [];

/** One call on one line: model, tokens in/out, latency, then what it decided or why it failed. */
function llmCall(call) {
  const retried = call.attempts > 1 ? `, ${call.attempts} attempts` : "";
  const figures = `${call.input_tokens} in / ${call.output_tokens} out · ${Math.round(call.latency_ms)} ms${retried}`;
  return h("li", {},
    h("span", { class: "chip" }, "LLM"), h("span", { class: "mono" }, call.model), " ",
    call.requested && [h("span", { class: "muted" }, `(instead of ${call.requested})`), " "],
    h("span", { class: "muted" }, `${call.purpose} · ${figures}`),
    call.error ? [" ", note("error", call.error)]
      : call.decision && [" → ", h("span", { class: "mono wrap" }, call.decision)]);
}

/** While the task waits: for a person, what to do, until when, and the Done button that lets it go on; for a
 * 2FA code, which message it expects. */
function waitingFor(task, done) {
  const wait = task.waiting_for;
  if (!wait) return null;
  if (wait.kind === "two_fa") {
    return h("p", {}, `Waiting for ${wait.message}…`);
  }
  return [
    h("p", {}, h("strong", {}, "Waiting for a person: "), wait.message),
    h("p", { class: "muted" }, `At ${wait.node}; the step fails if nobody is done by `, time(wait.deadline), "."),
    h("div", { class: "actions" }, h("button", { type: "button", id: "task-done", onclick: done }, "Done")),
  ];
}

function outputs(task) {
  if (task.output_data === null) return h("p", { class: "muted" }, ACTIVE.includes(task.status) ? "No outputs yet." : "No outputs.");
  return h("pre", { class: "json", tabIndex: 0 }, JSON.stringify(task.output_data, null, 2));
}

function downloads(task) {
  if (task.downloads.length === 0) return h("p", { class: "muted" }, "No downloads.");
  return h("ul", { class: "files" }, task.downloads.map((d) =>
    h("li", {}, h("a", { href: local(d.url), download: d.filename }, d.filename), " ", h("span", { class: "muted" }, bytes(d.size)))));
}

function finalScreenshot(task) {
  if (!task.final_screenshot) return h("p", { class: "muted" }, task.completed_at ? "No final screenshot." : "Taken when the task ends.");
  const url = local(task.final_screenshot);
  return h("a", { href: url, target: "_blank" }, h("img", { src: url, alt: "The page when the task ended", class: "final" }));
}

function deliveries(callbacks) {
  if (callbacks.length === 0) return h("p", { class: "muted" }, "No callback (the task has no callback URL, or has not ended).");
  return callbacks.map((event) => h("div", { class: "delivery" },
    h("p", {}, badge(event.state), " ", h("code", { class: "wrap" }, event.url),
      event.delivered_at && [" delivered ", time(event.delivered_at)],
      event.next_attempt_at && [" next attempt ", time(event.next_attempt_at)]),
    event.attempts.length === 0 ? h("p", { class: "muted" }, "Not attempted yet.") :
      h("div", { class: "table-wrap" }, h("table", { class: "attempts" },
        h("thead", {}, h("tr", {}, ["Attempt", "When", "HTTP status", "Error", "Time"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, event.attempts.map((a, i) => h("tr", {},
          h("td", { class: "num" }, i + 1), h("td", {}, time(a.attempted_at)), h("td", { class: "num" }, a.status_code ?? "—"),
          h("td", { class: "wrap" }, a.error || ""), h("td", { class: "num" }, `${Math.round(a.duration_ms)} ms`))))))));
}

export async function render(root, taskId) {
  let state = await load(taskId);
  const parameters = await declared(state.task.endpoint_name);
  document.title = `${state.task.endpoint_name} ${taskId.slice(0, 8)} · rebrowse`;

  const status = h("span");
  const message = h("div", { "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "danger" }, "Cancel task");
  const redeliver = h("button", { type: "button", class: "secondary" }, "Redeliver callback");
  const healed = h("span");
  const parts = Object.fromEntries(["facts", "healed", "inputs", "timeline", "steps", "outputs", "downloads", "screenshot", "callbacks"]
    .map((name) => [name, h("div", { id: `task-${name}` })]));
  const healedSection = section("Healed steps", parts.healed);
  const fixed = h("div", { id: "task-fixed-version" });
  const fixedSection = section("Fixed version", fixed);
  let saved = null;
  const waiting = h("div", { id: "task-waiting", class: "waiting", hidden: true });
  const liveSection = section("Live view",
    waiting,
    h("p", { class: "muted", id: "live-status", "aria-live": "polite" }, "Waiting for the task to start…"),
    h("div", { class: "screen", id: "live-screen" }));
  const live = ACTIVE.includes(state.task.status)
    ? new LiveView(liveSection.querySelector("#live-screen"), taskId, (text) => { liveSection.querySelector("#live-status").textContent = text; })
    : null;

  let cancelling = false;  // asked to cancel, and not ended yet
  const update = () => {
    const { task, steps, callbacks } = state;
    const active = ACTIVE.includes(task.status);
    fill(status, badge(task.status));
    fill(healed, healedSteps(task).length > 0 && healedBadge());
    fill(parts.healed, healedList(task));
    healedSection.hidden = healedSteps(task).length === 0;
    fill(fixed, fixedVersion(task, saved, save));
    fixedSection.hidden = !task.cached_automation_url;
    const kind = cachedKind(task);
    const title = kind[0].toUpperCase() + kind.slice(1);
    fixedSection.setAttribute("aria-label", title);
    fill(fixedSection.querySelector("h2"), title);
    cancel.hidden = !active;
    redeliver.hidden = !(task.completed_at && callbacks.length > 0);
    fill(parts.facts, facts(task));
    fill(parts.inputs, inputs(task, parameters));
    if (cancelling && !active) {
      cancelling = false;  // the cancel took effect (or the task ended first): say how it ended, not what was asked
      fill(message, task.status === "cancelled" && notice("info", "Cancelled."));
    }
    fill(parts.timeline, timeline(task, steps));
    fill(parts.steps, traceLink(state.trace), stepRows(steps));
    fill(parts.outputs, outputs(task));
    fill(parts.downloads, downloads(task));
    fill(parts.screenshot, finalScreenshot(task));
    fill(parts.callbacks, deliveries(callbacks));
    fill(waiting, waitingFor(task, () => act(`/api/v1/tasks/${taskId}/resume`, "Resumed: the task goes on")));
    waiting.hidden = !task.waiting_for;
    if (live) live.setInteractive(Boolean(task.waiting_for) && task.status === "running");
    if (live && task.status === "running") live.connect();
    if (live && !active) {
      live.stop();
      liveSection.hidden = true;
    }
    return active || callbacks.some((event) => event.state === "pending");
  };

  let stopPolling = () => {};
  const follow = () => {
    stopPolling();
    stopPolling = poll(async () => {
      state = await load(taskId);
      return update();
    }, REFRESH_MS);
  };
  const act = async (path, done) => {
    try {
      const result = await api(path, { method: "POST" });
      fill(message, notice("success", result.message || done));
      follow();
    } catch (error) {
      fill(message, errorBox(error));
    }
  };
  // Store the run's cached automation as the automation's next version, then show that version.
  async function save(event) {
    event.target.disabled = true;
    try {
      saved = (await api(`/api/v1/tasks/${taskId}/cached_automation/save`, { method: "POST" })).version;
      fill(message, notice("success", `Saved the ${cachedKind(state.task)} as version ${saved}`));
      update();
    } catch (error) {
      event.target.disabled = false;
      fill(message, errorBox(error));
    }
  }
  cancel.addEventListener("click", async () => {
    if (!confirm(`Cancel task ${taskId.slice(0, 8)}? A running task stops at its next step.`)) return;
    cancelling = true;
    await act(`/api/v1/tasks/${taskId}/cancel`, "Cancellation requested");
  });
  redeliver.addEventListener("click", () => act(`/api/v1/tasks/${taskId}/callbacks/redeliver`, "Callback queued"));

  fill(root,
    h("div", { class: "title-row" },
      h("h1", {}, state.task.endpoint_name, " ", status, " ", healed),
      h("div", { class: "actions" }, cancel,
        h("a", { class: "button secondary", href: `/automations/${encodeURIComponent(state.task.endpoint_name)}?rerun=${taskId}` }, "Re-run"))),
    h("p", { class: "mono muted" }, taskId),
    message,
    live && liveSection,
    healedSection,
    fixedSection,
    h("div", { class: "columns" },
      section("Summary", parts.facts),
      section("Inputs", parts.inputs),
      section("Timeline", parts.timeline)),
    section("Steps", parts.steps),
    h("div", { class: "columns" },
      section("Outputs", parts.outputs),
      h("div", {}, section("Downloads", parts.downloads), section("Final screenshot", parts.screenshot))),
    section("Callback deliveries", h("div", { class: "actions" }, redeliver), parts.callbacks),
  );
  if (update()) follow();
}
