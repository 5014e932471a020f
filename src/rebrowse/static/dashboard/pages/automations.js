// The account's automations, and a form to upload or paste one (problems shown at their JSON paths).
import { ApiError, api, cells, errorBox, fill, h, time } from "../lib.js";

const NAME_PATTERN = "[A-Za-z0-9_.\\-]{1,100}";
const COLUMNS = ["Endpoint", "Version", "Description", "Saved"];

function list(automations) {
  if (automations.length === 0) return h("p", { class: "muted" }, "No automations yet: add one below.");
  return h("div", { class: "table-wrap" }, h("table", { class: "cards" },
    h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, automations.map((a) => h("tr", {}, cells(COLUMNS, [
      h("a", { class: "wrap", href: `/automations/${encodeURIComponent(a.endpoint_name)}` }, a.endpoint_name),
      `v${a.version}`,
      a.description || "",
      time(a.created_at),
    ], [1])))),
  ));
}

/** The automation JSON from the chosen file, or else from the text box; an ApiError-like problem otherwise. */
async function readAutomation(file, text) {
  const source = file.files.length > 0 ? await file.files[0].text() : text.value;
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new ApiError(400, `The automation is not valid JSON: ${error.message}`);
  }
}

function uploadForm() {
  const name = h("input", { id: "new-name", name: "endpoint_name", required: true, pattern: NAME_PATTERN, autocomplete: "off" });
  const description = h("input", { id: "new-description", name: "description", maxLength: 2000 });
  const file = h("input", { id: "new-file", type: "file", accept: ".json,application/json" });
  const text = h("textarea", { id: "new-json", rows: 10, spellcheck: false, placeholder: '{"url": "https://…", "parameters": {}, "nodes": []}' });
  const problem = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", id: "upload" },
    h("h2", {}, "Add an automation or a new version"),
    h("label", { for: "new-name" }, "Endpoint name"), name,
    h("label", { for: "new-description" }, "Description (optional)"), description,
    h("label", { for: "new-file" }, "Automation JSON file"), file,
    h("label", { for: "new-json" }, "…or paste the automation JSON"), text,
    problem,
    h("button", { type: "submit" }, "Save"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const automation = await readAutomation(file, text);
      const endpoint = encodeURIComponent(name.value);
      await api(`/api/v1/automations/${endpoint}`, {
        method: "PUT", body: { automation, description: description.value || null },
      });
      location.assign(`/automations/${endpoint}`);
    } catch (error) {
      fill(problem, errorBox(error));
    }
  });
  return form;
}

export async function render(root) {
  document.title = "Automations · rebrowse";
  const { automations } = await api("/api/v1/automations");
  fill(root, h("h1", {}, "Automations"), list(automations), uploadForm());
}
