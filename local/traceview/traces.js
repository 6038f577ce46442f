// The local trace view: recent traces from /api/local/traces, and one trace (/traces#<trace-id>) as a
// waterfall. Span names, attributes and events come from the functions and the wiki's answers: untrusted, so
// the DOM is built with createElement and textContent only (the CSP forbids inline code anyway). Bars are
// placed through the CSSOM (element.style), which the CSP's style-src 'self' allows, unlike style attributes.

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"), list: $("list"), rows: $("trace-rows"),
  trace: $("trace"), traceId: $("trace-id"), summary: $("trace-summary"), spans: $("spans"),
  refresh: $("refresh"),
};
const TRACE_ID = /^[0-9a-f]{32}$/;

/** An element with a class and children; strings become text nodes, never markup. */
function h(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) {
    // append() turns a string into a text node: nothing is ever parsed as markup.
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const ms = (value) => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;

function setStatus(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", isError);
}

async function getJson(path) {
  const answer = await fetch(path, { headers: { accept: "application/json" } });
  const body = await answer.json().catch(() => null);
  if (!answer.ok) {
    const message = body?.error?.message ?? `HTTP ${answer.status}`;
    throw new Error(message);
  }
  return body;
}

// --- the list of recent traces

async function showList() {
  ui.trace.hidden = true;
  setStatus("Loading traces…");
  let body;
  try {
    body = await getJson("/api/local/traces");
  } catch (error) {
    setStatus(`Could not load the traces: ${error.message}`, true);
    return;
  }
  const traces = Array.isArray(body?.traces) ? body.traces : [];
  ui.rows.replaceChildren(...traces.map(traceRow));
  ui.list.hidden = false;
  setStatus(traces.length ? "" : "No trace yet: search in WikiRoam, and its trace appears here once shipped.");
}

function traceRow(trace) {
  const link = h("a", null, String(trace.root_span_name ?? "(no root)"));
  link.href = `#${trace.trace_id}`;
  const id = h("code", null, ` ${String(trace.trace_id).slice(0, 8)}…`);
  const row = h(
    "tr", trace.error_count > 0 ? "has-errors" : null,
    h("td", null, new Date(trace.start_unix_ms).toLocaleTimeString()),
    h("td", null, link, id),
    h("td", "number", ms(trace.duration_ms)),
    h("td", "number", String(trace.span_count)),
    h("td", "number errors", String(trace.error_count)),
  );
  return row;
}

// --- one trace as a waterfall

async function showTrace(traceId) {
  ui.list.hidden = true;
  ui.traceId.textContent = traceId;
  setStatus("Loading the trace…");
  let trace;
  try {
    trace = await getJson(`/api/local/traces/${encodeURIComponent(traceId)}`);
  } catch (error) {
    ui.trace.hidden = true;
    setStatus(`${error.message}. Spans arrive a moment after the work ends: refresh in a few seconds.`, true);
    return;
  }
  const spans = Array.isArray(trace.spans) ? trace.spans : [];
  const total = Math.max(trace.duration_ms, 0.001);
  ui.summary.textContent = `${trace.span_count} spans, ${trace.error_count} errors, ${ms(trace.duration_ms)}, `
    + `started ${new Date(trace.start_unix_ms).toLocaleString()}`
    + (trace.orphan_count ? `; ${trace.orphan_count} spans whose parent has not arrived (shown as roots)` : "");
  ui.spans.replaceChildren(...spans.map((span) => spanItem(span, total)));
  ui.trace.hidden = false;
  setStatus("");
}

function spanItem(span, total) {
  const isError = span.status?.code === "ERROR";
  const item = h("li", isError ? "span error" : "span");
  const name = h("span", "span-name", String(span.name));
  name.style.paddingLeft = `${Math.min(span.depth, 30) * 1.1}rem`;
  const track = h("span", "track");
  const bar = h("span", "bar");
  bar.style.left = `${(span.offset_ms / total) * 100}%`;
  bar.style.width = `${Math.max((span.duration_ms / total) * 100, 0.2)}%`;
  track.append(bar);
  for (const event of span.events ?? []) {
    const marker = h("span", "marker");
    marker.style.left = `${(event.offset_ms / total) * 100}%`;
    marker.title = String(event.name);
    track.append(marker);
  }
  const row = h(
    "button", "span-row",
    name,
    h("span", "span-service", String(span.service)),
    h("span", "span-kind", String(span.kind)),
    h("span", "span-duration", ms(span.duration_ms)),
    track,
  );
  row.type = "button";
  row.setAttribute("aria-expanded", "false");
  row.title = `${span.name} (${span.kind}, ${span.service})`;
  let details = null;
  row.addEventListener("click", () => {
    if (details === null) {
      details = spanDetails(span);
      item.append(details);
    } else {
      details.hidden = !details.hidden;
    }
    row.setAttribute("aria-expanded", String(!details.hidden));
  });
  item.append(row);
  return item;
}

function keyValues(values) {
  const table = h("table");
  for (const [key, value] of Object.entries(values ?? {})) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    table.append(h("tr", null, h("th", null, key), h("td", null, text)));
  }
  return table;
}

function spanDetails(span) {
  const details = h("div", "details");
  const ids = {
    "span id": span.span_id, "parent span id": span.parent_span_id ?? "(root)",
    start: span.start, offset: ms(span.offset_ms), duration: ms(span.duration_ms),
    status: span.status?.message ? `${span.status.code}: ${span.status.message}` : span.status?.code,
  };
  const summary = keyValues(ids);
  if (span.status?.code === "ERROR") summary.classList.add("status-error");
  details.append(h("h2", null, "Span"), summary);
  details.append(h("h2", null, "Attributes"), keyValues(span.attributes));
  for (const event of span.events ?? []) {
    details.append(h("h2", null, `Event: ${event.name} at ${ms(event.offset_ms)}`), keyValues(event.attributes));
  }
  details.append(h("h2", null, "Resource"), keyValues(span.resource));
  return details;
}

// --- routing: /traces lists, /traces#<trace-id> opens one trace

function route() {
  const wanted = decodeURIComponent(location.hash.slice(1)).trim().toLowerCase();
  if (!wanted) {
    showList();
  } else if (TRACE_ID.test(wanted)) {
    showTrace(wanted);
  } else {
    ui.list.hidden = true;
    ui.trace.hidden = true;
    setStatus("That is not a trace id: it has 32 hexadecimal digits.", true);
  }
}

window.addEventListener("hashchange", route);
ui.refresh.addEventListener("click", route);
route();
