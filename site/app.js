// WikiRoam's browser UI: search as you type, result cards, and roaming from a page to the pages linking to it.
// Everything the wiki sends (titles, extracts, URLs) is untrusted: the DOM is built with createElement and
// textContent only, and URLs are used only when they are http(s). The site's CSP forbids inline code anyway.

const SEARCH_PAUSE_MS = 300;
// Cache status polling: exponential backoff with jitter, so many open tabs never poll in lockstep, and a cap
// so a page the pipeline never finishes does not keep a tab polling forever.
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 8000;
const POLL_ROUNDS = 8;
const BACKLINKS_PER_REQUEST = 50;
const REMEMBERED_SEARCHES = 20;

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("search-form"), input: $("q"), home: $("home"),
  crumbs: $("crumbs"), crumbList: $("crumb-list"),
  status: $("status"), error: $("error"), errorText: $("error-text"), retry: $("retry"),
  results: $("results"), resultsHeading: $("results-heading"), cards: $("cards"),
  pageView: $("page-view"), pageCard: $("page-card"),
  backlinksStatus: $("backlinks-status"), backlinkList: $("backlink-list"), more: $("more"),
  trace: $("trace"),
};

// --- Small helpers ---------------------------------------------------------------------------------------

/** Children worth drawing: a missing part (null, undefined, false) draws nothing, never the word "null". */
const present = (children) => children.filter((child) => child !== null && child !== undefined && child !== false);

/** An element with attributes and children; strings become text nodes, never markup. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...present(children));
  return node;
}

/** The article's plain-text extract, or nothing when the wiki has none (a page that opens with a section). */
function extract(page) {
  return typeof page.extract === "string" && page.extract ? h("p", { class: "extract", text: page.extract }) : null;
}

/** The URL when it is http(s), else null: a `javascript:` or `data:` URL from the wiki must never be followed. */
function webUrl(raw) {
  if (typeof raw !== "string" || !raw) return null;
  try {
    const url = new URL(raw, location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Trimmed, whitespace runs collapsed: the API does the same, so "a  b" and "a b" are one term. */
const normalize = (term) => term.trim().split(/\s+/).filter(Boolean).join(" ");

const randomHex = (bytes) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

/** A W3C trace context for one search: the UI starts the trace, so its id can be shown and looked up. */
function newTrace() {
  const traceId = randomHex(16);
  return { traceId, traceparent: `00-${traceId}-${randomHex(8)}-01` };
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

const isAbort = (error) => error?.name === "AbortError";

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET a JSON API path; an `ApiFailure` says what went wrong in words a reader can act on. */
async function api(path, { signal, headers } = {}) {
  let response;
  try {
    response = await fetch(path, { signal, headers, credentials: "same-origin" });
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiFailure(0, "network", "WikiRoam could not be reached. Check your connection and try again.");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    if (isAbort(error)) throw error;
  }
  if (response.ok && body) return body;
  const detail = body?.error;
  if (detail && typeof detail.message === "string") {
    throw new ApiFailure(response.status, String(detail.code), detail.message);
  }
  throw new ApiFailure(response.status, "bad_response", `WikiRoam answered with HTTP ${response.status}.`);
}

/** Worth trying again: the network, or a 5xx (the wiki or the cache may be back in a moment); a 4xx will not change. */
const retryable = (failure) => failure.status === 0 || failure.status >= 500;

/** What to tell the reader about a failure; 502/503 mean the wiki (or the cache) is having trouble. */
function describe(failure, doing) {
  if (failure.status === 0) return failure.message;
  const detail = `${failure.message} (HTTP ${failure.status}, ${failure.code})`;
  if (failure.status === 502 || failure.status === 503) return `The wiki is having trouble while ${doing}: ${detail}`;
  if (failure.status >= 500) return `Something failed on WikiRoam's side while ${doing}: ${detail}`;
  return detail; // a 4xx message already says what is wrong with the request
}

// --- Status, errors, trace -------------------------------------------------------------------------------

let retryAction = null;

function setStatus(text) {
  ui.status.textContent = text;
}

function showError(text, retry) {
  setStatus("");
  ui.errorText.textContent = text;
  retryAction = retry;
  ui.retry.hidden = !retry;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.errorText.textContent = "";
  retryAction = null;
}

ui.retry.addEventListener("click", () => retryAction?.());

// The local stack serves a trace view; the cloud does not. Ask once, and only on a loopback host, so the
// deployed site never spends a request on it. Elsewhere the id is shown as text, for support requests.
const traceViewAvailable = (async () => {
  if (!["127.0.0.1", "localhost", "[::1]"].includes(location.hostname)) return false;
  try {
    return (await fetch("/api/local/traces", { method: "GET" })).status === 200;
  } catch {
    return false;
  }
})();

async function showTrace(traceId) {
  const label = "Trace ";
  ui.trace.dataset.traceId = traceId;
  ui.trace.replaceChildren(label, h("code", { text: traceId }));
  ui.trace.hidden = false;
  if (await traceViewAvailable && ui.trace.dataset.traceId === traceId) {
    ui.trace.replaceChildren(label, h("a", { href: `/traces#${traceId}` }, h("code", { text: traceId })));
  }
}

function hideTrace() {
  ui.trace.hidden = true;
  delete ui.trace.dataset.traceId;
  ui.trace.replaceChildren();
}

// --- Cards ------------------------------------------------------------------------------------------------

const isCached = (page) => page.cached === true || page.backlinks_status === "complete"
  || page.backlinks_status === "partial";

/** The cache status badge; it is updated in place while the pipeline works. */
function badge(page) {
  const node = h("span", { class: "badge" });
  paintBadge(node, page);
  return node;
}

// `failed`: the pipeline gave up on the page; reading it (as a poll does) asks for it again, so keep following.
function paintBadge(node, page, gaveUp = false) {
  const cached = isCached(page);
  const failed = !cached && page.backlinks_status === "failed";
  node.className = `badge ${cached ? "badge-cached" : failed ? "badge-failed" : "badge-caching"}`;
  if (cached) node.textContent = page.backlinks_status === "partial" ? "cached (some backlinks)" : "cached";
  else if (failed) node.textContent = `caching failed${gaveUp ? "" : ", retrying\u2026"}`;
  else node.textContent = gaveUp ? "not cached yet" : "caching\u2026";
  node.title = failed && page.caching_error ? `The cache pipeline stopped with ${page.caching_error}.` : "";
}

function thumbnail(page) {
  const src = webUrl(page.thumbnail);
  if (!src) return null;
  // Decorative: the title right beside it says what the article is.
  const img = h("img", { class: "thumb", src, alt: "", loading: "lazy", decoding: "async" });
  img.addEventListener("error", () => img.remove(), { once: true });
  return img;
}

function wikiLink(page) {
  const href = webUrl(page.url);
  if (!href) return null;
  return h("a", { class: "wiki-link", href, rel: "external noreferrer" }, "Read on the wiki",
    h("span", { class: "visually-hidden", text: `: ${page.title}` }));
}

/** A search result: title, extract, thumbnail, link to the article, cache status and the Backlinks button. */
function resultCard(page, term) {
  const titleId = `title-${page.pageid}`;
  const open = h("button", { type: "button", class: "open", "aria-describedby": titleId }, "Backlinks");
  open.addEventListener("click", () => navigate(pageUrl(term, page.pageid), pageState(term, [
    { pageid: page.pageid, title: page.title }])));
  const status = badge(page);
  const card = h("li", { class: "card", "data-pageid": page.pageid },
    h("article", { "aria-labelledby": titleId },
      thumbnail(page),
      h("h3", { class: "card-title", id: titleId, text: page.title }),
      extract(page),
      h("p", { class: "card-actions" }, status, wikiLink(page), open)));
  return { card, status };
}

// --- Routing -----------------------------------------------------------------------------------------------
// URLs: `?q=<term>` is a search, `?q=<term>#/page/<id>` (or just `#/page/<id>`) a page view. The breadcrumb
// (the path roamed) lives in history.state, so Back and Forward restore it and a reload keeps it; a shared
// URL starts a fresh path at that page.

function searchUrl(term) {
  return term ? `?${new URLSearchParams({ q: term })}` : location.pathname;
}

function pageUrl(term, pageid) {
  return `${term ? `?${new URLSearchParams({ q: term })}` : location.pathname}#/page/${pageid}`;
}

const pageState = (term, trail) => ({ view: "page", q: term, trail });

function currentRoute() {
  const q = normalize(new URLSearchParams(location.search).get("q") || "");
  const match = /^#\/page\/([1-9][0-9]{0,15})$/.exec(location.hash);
  if (match) {
    const pageid = Number(match[1]);
    const state = history.state;
    const trail = Array.isArray(state?.trail) && state.trail.at(-1)?.pageid === pageid
      ? state.trail : [{ pageid, title: null }];
    return { view: "page", q, pageid, trail };
  }
  return { view: "search", q };
}

function navigate(url, state, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](state, "", url);
  render({ moved: true });
}

window.addEventListener("popstate", () => render({ moved: true }));

ui.home.addEventListener("click", (event) => {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  ui.input.value = "";
  navigate(location.pathname, { view: "search", q: "" });
  ui.input.focus();
});

let view = null;

/** Draw the view the URL names; `moved` when the reader went there (not on first load), to move focus along. */
function render({ moved = false } = {}) {
  const route = currentRoute();
  if (document.activeElement !== ui.input || route.view === "page") ui.input.value = route.q;
  clearError();
  if (route.view === "page") {
    view = "page";
    showPage(route, moved);
  } else {
    view = "search";
    stopPage();
    showSearch(route.q);
  }
}

// --- Search -------------------------------------------------------------------------------------------------

const remembered = new Map(); // term -> {results, traceId}, newest last
let shownTerm = null; // the term whose results are shown or on their way
let searchController = null;
let searchSeq = 0;
let pauseTimer = null;
let cachePoll = null;

function remember(term, answer) {
  remembered.delete(term);
  remembered.set(term, answer);
  if (remembered.size > REMEMBERED_SEARCHES) remembered.delete(remembered.keys().next().value);
}

function cancelSearch() {
  clearTimeout(pauseTimer);
  searchController?.abort();
  searchController = null;
}

function clearResults() {
  cancelSearch();
  cachePoll?.abort();
  shownTerm = null;
  ui.cards.replaceChildren();
  ui.results.hidden = true;
  hideTrace();
  setStatus("");
}

function showSearch(term) {
  ui.pageView.hidden = true;
  ui.crumbs.hidden = true;
  document.title = term ? `\u201c${term}\u201d \u2013 WikiRoam` : "WikiRoam";
  if (!term) {
    clearResults();
    return;
  }
  const known = remembered.get(term);
  if (known) {
    cancelSearch();
    shownTerm = term;
    showResults(term, known);
  } else if (term !== shownTerm || searchController === null) {
    search(term); // unless this very term is already on its way
  }
}

/** Search now, unless the term is the one already shown: an unchanged term sends nothing. */
function requestSearch(term) {
  clearTimeout(pauseTimer);
  if (!term) {
    clearResults();
    if (view === "search" && location.search) navigate(location.pathname, { view: "search", q: "" }, { replace: true });
    return;
  }
  if (term === shownTerm && view === "search") return;
  // Typing refines one search: replace its history entry; leaving a page view for results is a new entry.
  navigate(searchUrl(term), { view: "search", q: term }, { replace: view === "search" });
}

async function search(term) {
  cancelSearch();
  cachePoll?.abort();
  const controller = new AbortController();
  searchController = controller;
  const seq = ++searchSeq;
  shownTerm = term;
  const { traceId, traceparent } = newTrace();
  clearError();
  setStatus(`Searching for \u201c${term}\u201d\u2026`);
  ui.results.setAttribute("aria-busy", "true");
  try {
    const body = await api(`/api/search?${new URLSearchParams({ q: term })}`, {
      signal: controller.signal, headers: { traceparent },
    });
    // Belt and braces next to abort(): only the latest request's answer may ever be drawn.
    if (seq !== searchSeq || view !== "search") return;
    const answer = { results: Array.isArray(body.results) ? body.results : [], traceId };
    remember(term, answer);
    showResults(term, answer);
  } catch (error) {
    if (isAbort(error) || seq !== searchSeq) return;
    shownTerm = null; // so the same term can be tried again
    ui.cards.replaceChildren();
    ui.results.hidden = true;
    showError(describe(error, `searching for \u201c${term}\u201d`), retryable(error) ? () => search(term) : null);
    showTrace(traceId);
  } finally {
    if (seq === searchSeq) {
      searchController = null;
      ui.results.removeAttribute("aria-busy");
    }
  }
}

function showResults(term, { results, traceId }) {
  clearError();
  ui.results.removeAttribute("aria-busy");
  const shown = results.map((page) => ({ page, ...resultCard(page, term) }));
  ui.cards.replaceChildren(...shown.map((s) => s.card));
  ui.resultsHeading.textContent = `Results for \u201c${term}\u201d`;
  ui.results.hidden = results.length === 0;
  setStatus(results.length
    ? `${results.length} ${results.length === 1 ? "article" : "articles"} for \u201c${term}\u201d.`
    : `No articles match \u201c${term}\u201d. Try fewer or different words.`);
  showTrace(traceId);
  watchCards(shown);
}

/** Follow the uncached cards until the pipeline has cached them, updating their badges. */
function watchCards(shown) {
  cachePoll?.abort();
  const waiting = shown.filter((s) => !isCached(s.page));
  if (!waiting.length) return;
  const controller = new AbortController();
  cachePoll = controller;
  const byId = new Map(waiting.map((s) => [s.page.pageid, s]));
  pollUntilCached([...byId.keys()], controller.signal, (page) => {
    const entry = byId.get(page.pageid);
    if (!entry || !isCached(page)) return;
    entry.page.cached = true; // the remembered answer shows it cached when Back returns to it
    paintBadge(entry.status, page);
  }).then((left) => {
    for (const id of left) paintBadge(byId.get(id).status, byId.get(id).page, true);
  }, () => {});
}

/** Poll `GET /api/pages/{id}` with backoff until each page is cached or the rounds run out; the ids left. */
async function pollUntilCached(pageids, signal, onPage) {
  const pending = new Set(pageids);
  let delay = POLL_FIRST_MS;
  for (let round = 0; round < POLL_ROUNDS && pending.size; round += 1) {
    await sleep(delay * (0.8 + Math.random() * 0.4), signal);
    delay = Math.min(delay * 2, POLL_MAX_MS);
    const pages = await Promise.all([...pending].map((id) => api(`/api/pages/${id}`, { signal }).catch((error) => {
      if (isAbort(error)) throw error;
      return null; // a failed poll is retried next round
    })));
    for (const page of pages) {
      if (!page) continue;
      onPage(page);
      if (isCached(page)) pending.delete(page.pageid);
    }
  }
  return pending;
}

ui.input.addEventListener("input", () => {
  clearTimeout(pauseTimer);
  const term = normalize(ui.input.value);
  if (!term) {
    requestSearch("");
    return;
  }
  pauseTimer = setTimeout(() => requestSearch(term), SEARCH_PAUSE_MS);
});

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  requestSearch(normalize(ui.input.value));
});

// --- Page view --------------------------------------------------------------------------------------------

let pageController = null;
let shownPage = null; // {pageid, trail}

function stopPage() {
  pageController?.abort();
  pageController = null;
  shownPage = null;
}

function renderCrumbs(term, trail) {
  const items = [];
  if (term) {
    const link = h("a", { href: searchUrl(term) }, `Search \u201c${term}\u201d`);
    link.addEventListener("click", followLink(() => navigate(searchUrl(term), { view: "search", q: term })));
    items.push(h("li", {}, link));
  }
  trail.forEach((step, index) => {
    const label = step.title || `Page ${step.pageid}`;
    if (index === trail.length - 1) {
      items.push(h("li", {}, h("span", { "aria-current": "page", text: label })));
      return;
    }
    const target = trail.slice(0, index + 1);
    const link = h("a", { href: pageUrl(term, step.pageid), text: label });
    link.addEventListener("click", followLink(() => navigate(pageUrl(term, step.pageid), pageState(term, target))));
    items.push(h("li", {}, link));
  });
  ui.crumbList.replaceChildren(...items);
  ui.crumbs.hidden = false;
}

/** A click handler that keeps ctrl/middle-click (new tab) working and handles a plain click in place. */
function followLink(go) {
  return (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go();
  };
}

function showPage({ q, pageid, trail }, moved) {
  cancelSearch();
  cachePoll?.abort();
  shownTerm = null;
  hideTrace();
  ui.results.hidden = true;
  ui.pageView.hidden = false;
  renderCrumbs(q, trail);
  if (shownPage?.pageid === pageid && pageController) {
    shownPage.trail = trail;
    return;
  }
  stopPage();
  const controller = new AbortController();
  pageController = controller;
  shownPage = { pageid, trail };
  const known = trail.at(-1).title;
  const heading = h("h2", { id: "page-title", class: "card-title", tabindex: "-1", text: known || "Loading\u2026" });
  ui.pageCard.replaceChildren(heading);
  // Move focus with the view, so keyboard and screen reader users start at the page they opened.
  if (moved && document.activeElement !== ui.input) heading.focus();
  ui.backlinkList.replaceChildren();
  ui.backlinksStatus.textContent = "";
  ui.more.hidden = true;
  setStatus(`Opening ${known || `page ${pageid}`}\u2026`);
  loadPage(q, pageid, controller.signal).catch((error) => {
    if (isAbort(error)) return;
    setStatus("");
    if (!known) heading.textContent = `Page ${pageid}`;
    showError(describe(error, `opening page ${pageid}`), retryable(error) ? () => {
      stopPage();
      render({ moved: true });
    } : null);
  });
}

async function loadPage(term, pageid, signal) {
  let page = await api(`/api/pages/${pageid}`, { signal });
  signal.throwIfAborted();
  setStatus("");
  drawPageCard(page);
  document.title = `${page.title} \u2013 WikiRoam`;
  if (!shownPage.trail.at(-1).title) {
    // A shared URL arrives without titles in its path: record this one, so Back and the breadcrumb show it.
    shownPage.trail = [...shownPage.trail.slice(0, -1), { pageid, title: page.title }];
    history.replaceState(pageState(term, shownPage.trail), "", location.href);
    renderCrumbs(term, shownPage.trail);
  }
  const listing = { loadedMore: false };
  await loadBacklinks(page, null, signal, listing);
  if (isCached(page)) return;
  // While the pipeline caches the backlinks, follow it, then show the complete list.
  const left = await pollUntilCached([pageid], signal, (fresh) => {
    page = fresh;
    paintBadge($("page-badge"), fresh);
    if (!isCached(fresh)) ui.backlinksStatus.textContent = progressText(fresh);
  });
  if (left.size) {
    paintBadge($("page-badge"), page, true);
    ui.backlinksStatus.textContent = "The backlinks are still being cached; come back to this page later.";
  } else if (!listing.loadedMore) {
    await loadBacklinks(page, null, signal, listing);
  }
}

function progressText(page) {
  const count = page.backlinks_count;
  if (page.backlinks_status === "failed") {
    const why = page.caching_error ? ` (${page.caching_error})` : "";
    return `Caching the backlinks failed${why}; WikiRoam has asked again.${count ? ` ${count} cached so far.` : ""}`;
  }
  return count ? `Caching backlinks\u2026 ${count} so far.` : "Caching backlinks\u2026";
}

function drawPageCard(page) {
  const status = badge(page);
  status.id = "page-badge";
  const hadFocus = document.activeElement?.id === "page-title";
  // replaceChildren() would draw a missing thumbnail as the text "null": only the parts the page has go in.
  ui.pageCard.replaceChildren(...present([
    thumbnail(page),
    h("h2", { id: "page-title", class: "card-title", tabindex: "-1", text: page.title }),
    extract(page),
    h("p", { class: "card-actions" }, status, wikiLink(page)),
  ]));
  if (hadFocus) $("page-title").focus();
}

/** Draw the first page of backlinks (cursor null) or append the next one. */
async function loadBacklinks(page, cursor, signal, listing) {
  const query = new URLSearchParams({ limit: String(BACKLINKS_PER_REQUEST) });
  if (cursor) query.set("cursor", cursor);
  let body;
  try {
    body = await api(`/api/pages/${page.pageid}/backlinks?${query}`, { signal });
  } catch (error) {
    // A page opened for the first time is not in the cache until the pipeline claims it.
    if (error instanceof ApiFailure && error.code === "page_not_cached") {
      body = { backlinks: [], next_cursor: null, backlinks_status: "pending" };
    } else {
      throw error;
    }
  }
  signal.throwIfAborted();
  const term = currentRoute().q;
  const items = body.backlinks.map((link) => {
    const href = pageUrl(term, link.pageid);
    const anchor = h("a", { href, text: link.title });
    anchor.addEventListener("click", followLink(() => navigate(href, pageState(term, [
      ...shownPage.trail, { pageid: link.pageid, title: link.title }]))));
    return h("li", {}, anchor);
  });
  if (cursor) ui.backlinkList.append(...items);
  else ui.backlinkList.replaceChildren(...items);
  const shown = ui.backlinkList.children.length;
  const status = body.backlinks_status;
  if (status === "pending" || status === "failed") ui.backlinksStatus.textContent = progressText(page);
  // A title ending in a full stop ("& co.") ends the sentence itself.
  else if (!shown) ui.backlinksStatus.textContent = `No pages link to ${page.title}${page.title.endsWith(".") ? "" : "."}`;
  else {
    const total = page.backlinks_count ?? shown;
    const gap = status === "partial" ? " (the wiki has more; the first ones are cached)" : "";
    ui.backlinksStatus.textContent = `Showing ${shown} of ${total}${gap}.`;
  }
  ui.more.hidden = !body.next_cursor;
  ui.more.onclick = null;
  if (body.next_cursor) {
    ui.more.onclick = async () => {
      ui.more.disabled = true;
      listing.loadedMore = true;
      try {
        const before = ui.backlinkList.children.length;
        await loadBacklinks(page, body.next_cursor, signal, listing);
        // Keyboard users continue where the new links begin instead of at the end of the list.
        ui.backlinkList.children[before]?.querySelector("a")?.focus();
      } catch (error) {
        if (!isAbort(error)) showError(describe(error, "loading more backlinks"), null);
      } finally {
        ui.more.disabled = false;
      }
    };
  }
  return listing;
}

render();
