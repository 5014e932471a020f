// The account's tasks, newest first: filters, cursor pages, and a refresh while any task shown is active.
import { ACTIVE, STATUSES, api, badge, cells, duration, errorBox, fill, h, poll, time } from "../lib.js";

const REFRESH_MS = 2000;
const COLUMNS = ["Task", "Status", "Endpoint", "Unique values", "Created", "Started", "Completed", "Duration"];

function uniqueValues(task) {
  const entries = Object.entries(task.unique_parameters || {});
  if (entries.length === 0) return h("span", { class: "muted" }, "—");
  return entries.map(([name, values]) => h("span", { class: "chip" }, `${name}=${values.join(",")}`));
}

/** The automation a task runs; a recording, or a recording's draft run once, has none. */
function what(task) {
  if (task.kind === "recording") return h("em", {}, "recording");
  return task.endpoint_name || h("em", {}, "draft run");
}

function row(task) {
  return h("tr", { "data-task-id": task.task_id }, cells(COLUMNS, [
    h("a", { href: `/${task.kind === "recording" ? "recordings" : "tasks"}/${task.task_id}`, class: "mono" }, task.task_id.slice(0, 8)),
    badge(task.status),
    h("span", { title: task.endpoint_name }, what(task)),
    uniqueValues(task),
    time(task.created_at),
    time(task.started_at),
    time(task.completed_at),
    duration(task.started_at, task.completed_at),
  ], [7]));
}

// The page's filters: the API's query parameter, and the word for it in the hint of an empty list.
const FILTERS = { task_id: "id", status: "status", endpoint_contains: "endpoint", endpoint_name: "endpoint" };

function filterForm(query, endpoints) {
  const status = h("select", { id: "status", name: "status" },
    h("option", { value: "" }, "any"),
    STATUSES.map((s) => h("option", { value: s, selected: query.get("status") === s }, s)),
  );
  // A pasted id keeps its dashes; the field takes the full id or its first characters.
  const taskId = h("input", {
    id: "task-id", name: "task_id", value: query.get("task_id") || "", class: "mono",
    pattern: "\\s*[0-9A-Fa-f\\-]{1,36}\\s*", title: "A task id, or its first characters", autocomplete: "off",
    placeholder: "e.g. 3f2a9c1e",
  });
  const endpoint = h("input", {
    id: "endpoint", name: "endpoint_contains", list: "endpoints",
    value: query.get("endpoint_contains") || query.get("endpoint_name") || "",
    pattern: "[A-Za-z0-9_.\\-]{1,100}", title: "Part of an endpoint's name, in any case", autocomplete: "off",
  });
  const form = h("form", { class: "filters", method: "get", action: "/tasks", role: "search" },
    h("div", {}, h("label", { for: "task-id" }, "Task id"), taskId),
    h("div", {}, h("label", { for: "status" }, "Status"), status),
    h("div", {}, h("label", { for: "endpoint" }, "Endpoint"), endpoint),
    h("datalist", { id: "endpoints" }, endpoints.map((name) => h("option", { value: name }))),
    h("button", { type: "submit" }, "Filter"),
  );
  // Empty fields stay out of the address; a pasted id loses the spaces around it.
  form.addEventListener("submit", () => {
    taskId.value = taskId.value.trim();
    for (const field of [taskId, status, endpoint]) field.disabled = field.value === "";
  });
  return form;
}

function listUrl(query) {
  const params = new URLSearchParams({ limit: "50" });
  for (const name of [...Object.keys(FILTERS), "cursor", "limit"]) {
    if (query.get(name)) params.set(name, query.get(name).trim());
  }
  return `/api/v1/tasks?${params}`;
}

/** What the list shows when it is empty: with filters, which ones matched nothing and the way to clear them. */
function empty(query) {
  const used = Object.entries(FILTERS).filter(([name]) => query.get(name))
    .map(([name, word]) => `${word} "${query.get(name).trim()}"`);
  if (used.length === 0) return "No tasks yet.";
  return [`No task matches ${used.join(", ")} — `, h("a", { href: "/tasks" }, "clear the filter"), "."];
}

function pager(query, nextCursor) {
  const filters = new URLSearchParams(query);
  filters.delete("cursor");
  const older = new URLSearchParams(filters);
  older.set("cursor", nextCursor || "");
  return h("nav", { class: "pager", "aria-label": "Pages" },
    query.get("cursor") ? h("a", { href: `/tasks?${filters}` }, "← Newest") : h("span"),
    nextCursor ? h("a", { href: `/tasks?${older}`, rel: "next" }, "Older →") : h("span"),
  );
}

export async function render(root) {
  document.title = "Tasks · rebrowse";
  const query = new URLSearchParams(location.search);
  const [page, automations] = await Promise.all([api(listUrl(query)), api("/api/v1/automations")]);
  const body = h("tbody");
  const status = h("p", { class: "status-line muted", "aria-live": "polite" });
  const problem = h("div");
  const show = (tasks) => {
    fill(body, tasks.length ? tasks.map(row)
      : h("tr", { class: "empty" }, h("td", { colSpan: COLUMNS.length, class: "hint" }, empty(query))));
    const active = tasks.some((task) => ACTIVE.includes(task.status));
    status.textContent = active ? "Tasks are active: this list refreshes by itself." : "";
    return active;
  };
  fill(root,
    h("h1", {}, "Tasks"),
    filterForm(query, automations.automations.map((a) => a.endpoint_name)),
    status,
    problem,
    h("div", { class: "table-wrap" },
      h("table", { class: "tasks cards" },
        h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
        body,
      ),
    ),
    pager(query, page.next_cursor),
  );
  if (show(page.tasks)) {
    poll(async () => {
      try {
        const fresh = await api(listUrl(query));
        fill(problem);
        return show(fresh.tasks);
      } catch (error) {
        fill(problem, errorBox(error));
        throw error;
      }
    }, REFRESH_MS);
  }
}
