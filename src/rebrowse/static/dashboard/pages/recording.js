// New recording: a worker slot's browser opened on a URL, driven here through the live view (this user alone);
// the steps appear as they are recorded; once stopped, the draft is edited (rename, make secret, delete, reorder)
// and saved as a new version of a named automation.
import { LiveView } from "../live.js";
import { ACTIVE, api, badge, errorBox, fill, h, poll, section } from "../lib.js";

const NAME_PATTERN = "[A-Za-z0-9_.\\-]{1,100}";
const REFRESH_MS = 1000;
const DRIVING = "Live: you are recording. Your keyboard and mouse reach its browser; press Stop when you have finished.";

function startForm() {
  const url = h("input", { id: "recording-url", name: "url", type: "url", required: true, placeholder: "https://…" });
  const problem = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", id: "start-recording" },
    h("h2", {}, "New recording"),
    h("p", { class: "muted" }, "A browser opens on this page in a worker; you drive it here, and every click, "
      + "typed text and key press becomes a step of an automation."),
    h("label", { for: "recording-url" }, "Start URL"), url,
    problem,
    h("button", { type: "submit" }, "Start recording"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const started = await api("/api/v1/recordings", { method: "POST", body: { url: url.value } });
      location.assign(`/recordings/${started.recording_id}`);
    } catch (error) {
      fill(problem, errorBox(error));
    }
  });
  return form;
}

function stepList(steps) {
  if (steps.length === 0) return h("p", { class: "muted" }, "No steps yet: act in the browser above.");
  return h("ol", { id: "recorded-steps" }, steps.map((step) => h("li", { class: step.ambiguous || step.problem ? "flagged" : null },
    step.description,
    step.ambiguous && h("strong", {}, " ⚠ check this locator"),
    step.problem && h("strong", {}, ` ⚠ ${step.problem}`))));
}

/** One line for a draft node: its action and what it acts on. */
function describeNode(node) {
  const family = Object.keys(node).find((key) => key.endsWith("_action") && node[key]);
  if (!family) return node.type;
  const [kind, body] = Object.entries(node[family])[0] ?? [family, {}];
  const detail = typeof body === "object" && body ? Object.values(body).filter((v) => typeof v === "string").join(" · ") : "";
  return `${kind} ${detail}`.trim();
}

function editor(recording, edit, problem) {
  const draft = recording.draft;
  const inputs = Object.keys(draft.parameters?.input_parameters || {});
  const secure = Object.keys(draft.parameters?.secure_parameters || {});
  const parameterRow = (name, isSecret) => {
    const field = h("input", { value: name, "aria-label": `New name for ${name}`, class: "rename" });
    return h("tr", { "data-parameter": name },
      h("td", {}, h("code", {}, name), isSecret && " (secret: each run passes it)"),
      h("td", {}, field, h("button", { type: "button", class: "secondary",
        onclick: () => edit([{ op: "rename", parameter: name, to: field.value }]) }, "Rename")),
      h("td", {}, !isSecret && h("button", { type: "button", class: "secondary",
        onclick: () => edit([{ op: "secret", parameter: name }]) }, "Make secret")));
  };
  const count = draft.nodes.length;
  return section("Draft",
    h("h3", {}, "Parameters"),
    inputs.length + secure.length === 0 ? h("p", { class: "muted" }, "No parameters.")
      : h("div", { class: "table-wrap" }, h("table", { id: "draft-parameters" }, h("tbody", {},
        inputs.map((name) => parameterRow(name, false)), secure.map((name) => parameterRow(name, true))))),
    h("h3", {}, "Steps"),
    h("ol", { id: "draft-nodes" }, draft.nodes.map((node, index) => h("li", {},
      h("code", {}, describeNode(node)), " ",
      h("button", { type: "button", class: "secondary", disabled: index === 0, "aria-label": `Move step ${index + 1} up`,
        onclick: () => edit([{ op: "move", node: index, to: index - 1 }]) }, "↑"),
      h("button", { type: "button", class: "secondary", disabled: index === count - 1, "aria-label": `Move step ${index + 1} down`,
        onclick: () => edit([{ op: "move", node: index, to: index + 1 }]) }, "↓"),
      h("button", { type: "button", class: "secondary", "aria-label": `Delete step ${index + 1}`,
        onclick: () => edit([{ op: "delete", node: index }]) }, "Delete")))),
    problem,
    runForm(recording.recording_id, secure),
    saveForm(recording.recording_id),
  );
}

/** Run the draft once as it is now, with the values recorded; secure parameters need a source each (JSON). */
function runForm(recordingId, secure) {
  const sources = h("textarea", { id: "run-secure", rows: 3, spellcheck: false,
    placeholder: '{"password": [{"amazon_secrets_manager": {"secret_name": "…", "region_name": "…"}}]}' });
  const outcome = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", id: "run-draft" },
    secure.length > 0 && [h("label", { for: "run-secure" }, `Secure parameters (${secure.join(", ")}): where each value comes from`), sources],
    outcome,
    h("button", { type: "submit", class: "secondary" }, "Run once"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = sources.value.trim() ? { secure_parameters: JSON.parse(sources.value) } : {};
      const run = await api(`/api/v1/recordings/${recordingId}/run`, { method: "POST", body });
      fill(outcome, h("p", {}, "Running the draft: ", h("a", { href: `/tasks/${run.task_id}`, id: "draft-run" }, "see the task")));
    } catch (error) {
      fill(outcome, errorBox(error));
    }
  });
  return form;
}

function saveForm(recordingId) {
  const name = h("input", { id: "save-name", name: "endpoint_name", required: true, pattern: NAME_PATTERN, autocomplete: "off" });
  const problem = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", id: "save-recording" },
    h("label", { for: "save-name" }, "Save as a new version of the automation"), name, problem,
    h("button", { type: "submit" }, "Save"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const saved = await api(`/api/v1/recordings/${recordingId}/save`, { method: "POST", body: { endpoint_name: name.value } });
      location.assign(`/automations/${encodeURIComponent(saved.endpoint_name)}`);
    } catch (error) {
      fill(problem, errorBox(error));  // an invalid draft: each problem at its JSON path
    }
  });
  return form;
}

async function renderRecording(root, recordingId) {
  document.title = "Recording · rebrowse";
  const status = h("span", { id: "recording-status" });
  const message = h("div", { "aria-live": "polite" });
  const stop = h("button", { type: "button", id: "stop-recording" }, "Stop");
  const steps = h("div", {});
  const draftArea = h("div", {});
  const problem = h("div", { "aria-live": "polite" });
  const liveSection = section("Live view",
    h("p", { class: "muted", id: "live-status", "aria-live": "polite" }, "Waiting for a worker…"),
    h("div", { class: "screen", id: "live-screen" }));
  const say = (text) => { liveSection.querySelector("#live-status").textContent = text; };
  const live = new LiveView(liveSection.querySelector("#live-screen"), recordingId, say, DRIVING);
  live.setInteractive(true);

  const edit = async (edits) => {
    try {
      show(await api(`/api/v1/recordings/${recordingId}/edits`, { method: "POST", body: { edits } }));
      fill(problem);
    } catch (error) {
      fill(problem, errorBox(error));
    }
  };
  const show = (recording) => {
    fill(status, badge(recording.status));
    fill(steps, stepList(recording.steps));
    stop.hidden = !ACTIVE.includes(recording.status) || recording.stop_requested;
    if (recording.error) fill(message, h("p", { class: "error" }, recording.error));
    if (recording.draft) fill(draftArea, editor(recording, edit, problem));
    else if (recording.errors.length > 0) fill(draftArea, h("div", { class: "error", role: "alert" },
      h("p", {}, "No draft could be written:"), h("ul", {}, recording.errors.map((e) => h("li", {}, e)))));
  };
  const refresh = async () => {
    const recording = await api(`/api/v1/recordings/${recordingId}`);
    show(recording);
    const active = ACTIVE.includes(recording.status);
    if (recording.status === "running") live.connect();
    if (!active) {
      live.stop();
      liveSection.hidden = true;
    }
    return active || (recording.status === "success" && !recording.draft && recording.errors.length === 0);
  };
  stop.addEventListener("click", async () => {
    try {
      show(await api(`/api/v1/recordings/${recordingId}/stop`, { method: "POST" }));
    } catch (error) {
      fill(message, errorBox(error));
    }
  });
  fill(root,
    h("h1", {}, "Recording ", status),
    h("div", { class: "actions" }, stop), message,
    liveSection,
    section("Recorded steps", steps),
    draftArea);
  await refresh();
  poll(refresh, REFRESH_MS);
}

export async function render(root, recordingId) {
  if (recordingId) return renderRecording(root, recordingId);
  document.title = "New recording · rebrowse";
  fill(root, h("h1", {}, "New recording"), startForm());
}
