// Shared helpers of the dashboard's pages: building elements, calling the API, formatting values.

export const ACTIVE = ["queued", "allocated", "running"];
export const STATUSES = [...ACTIVE, "success", "failed", "killed", "cancelled"];

/** An element: h("a", {href: "/x", class: "y", onclick: fn}, "text", child, [more children]). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name in el && !name.includes("-") && name !== "list") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** An SVG element (h() makes HTML ones): svg("rect", {x: 0, width: 4}, svg("title", {}, "text")). */
export function svg(tag, attributes = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  append(el, children);
  return el;
}

/** Replace an element's children (one DOM change, so a refresh does not flicker). */
export function fill(el, ...children) {
  const fragment = document.createDocumentFragment();
  append(fragment, children);
  el.replaceChildren(fragment);
  return el;
}

/** An error answered by the API, with the JSON paths of the fields it names. */
export class ApiError extends Error {
  constructor(status, message, errors = []) {
    super(message);
    this.status = status;
    this.errors = errors;
  }
}

/** Call the API with the session cookie; a 401 sends the browser to the sign-in page. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { "x-rebrowse-csrf": "1" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && location.pathname !== "/sign-in") {
    location.assign(`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.detail || response.statusText, data?.errors || []);
  }
  return data;
}

/** The path of a URL the API gave (links stay on the origin the page was loaded from, with its cookie). */
export function local(url) {
  const parsed = new URL(url, location.origin);
  return parsed.pathname + parsed.search;
}

/** A table row's cells, each named by its column (a phone shows the row as a card of "column: value" lines);
 * the cells at the `numeric` positions are aligned as numbers. */
export function cells(columns, values, numeric = []) {
  return values.map((value, i) => h("td", { "data-label": columns[i], class: numeric.includes(i) && "num" }, value));
}

export function badge(status) {
  return h("span", { class: `badge badge-${status}` }, status);
}

const pad = (n) => String(n).padStart(2, "0");

/** A moment as local "YYYY-MM-DD HH:MM:SS" (the same width in every row), with the ISO value for machines. */
export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return h("time", { dateTime: iso, title: d.toISOString() }, text);
}

export function duration(startIso, endIso) {
  if (!startIso) return "—";
  const ms = (endIso ? new Date(endIso) : new Date()) - new Date(startIso);
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function bytes(size) {
  if (size === null || size === undefined) return "";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

/** An error box listing the API's message and each field problem at its JSON path. */
export function errorBox(error) {
  const problems = error instanceof ApiError ? error.errors : [];
  return h("div", { class: "error", role: "alert" },
    h("p", {}, error.message),
    problems.length > 0 && h("ul", {}, problems.map((p) => h("li", {}, h("code", {}, p.path), ": ", p.message))),
  );
}

/** A few words inline, coloured by their kind: "info", "success", "warning" or "error". */
export function note(kind, ...children) {
  return h("span", { class: `note note-${kind}` }, children);
}

/** A message box of its kind (see `note`); an error is announced at once, the others politely. */
export function notice(kind, ...children) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, children);
}

export function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h2", {}, title), children);
}

/** Run `step` now and then every `ms` while it returns true; returns a function that stops it. */
export function poll(step, ms) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    let again = false;
    try {
      again = await step();
    } catch (error) {
      again = !(error instanceof ApiError && error.status === 401);
    }
    if (again && !stopped) timer = setTimeout(run, ms);
  };
  timer = setTimeout(run, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
