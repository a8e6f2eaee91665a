// The System view: readiness of each dependency, documents by status, the collection generations and
// any reindex's progress (admins), the deployment's settings and links, the API's metrics (admins,
// fetched with the caller's token: a plain link would open without it); the footer's version line.

import { clearAlert, report } from "./alert.js";
import { request, send } from "./api.js";
import { byId, h, setText } from "./dom.js";
import { badge, formatTime, renderCounts } from "./format.js";
import { hasScope } from "./identity.js";
import { poller } from "./poll.js";

const REFRESH_MS = 2000;
const CHECK_NAMES = { postgres: "Postgres", vector_store: "Vector store", kafka: "Kafka", temporal: "Temporal" };
const BUILDING = new Set(["requested", "building"]);

let caller = null;
// A tenant's admin may not list the generations (they span every tenant): the API answers 403.
let generationsAllowed = false;
let metricsPath = "/metrics";
const poll = poller(refresh, REFRESH_MS);

async function refresh() {
  const tasks = [refreshReadiness()];
  if (hasScope(caller, "documents:read")) tasks.push(refreshCounts());
  if (generationsAllowed) tasks.push(refreshGenerations());
  const outcomes = await Promise.allSettled(tasks);
  const failed = outcomes.find((outcome) => outcome.status === "rejected");
  if (failed) report(failed.reason, "system");
  else clearAlert("system");
}

async function refreshReadiness() {
  // 503 means not ready, and still says which dependency failed.
  const response = await send("/readyz", { accept: [503] });
  const readiness = await response.json();
  const ready = readiness.status === "ready";
  byId("readiness-summary").replaceChildren(badge(ready ? "ready" : "not ready", ready ? "ok" : "bad"));
  byId("readiness").replaceChildren(
    ...Object.entries(readiness.checks).map(([name, result]) =>
      h(
        "li",
        { className: "check" },
        h("span", { className: "check-name" }, CHECK_NAMES[name] ?? name),
        result === "ok" ? badge("ok") : h("span", { className: "check-failure" }, result),
      ),
    ),
  );
}

async function refreshCounts() {
  renderCounts(byId("system-counts"), await request("/v1/documents/counts"));
}

function generationProgress(generation) {
  const done = generation.documents_done;
  const total = generation.documents_total;
  const text = h("span", {}, `${done} / ${total}`);
  if (!BUILDING.has(generation.status)) return text;
  const progress = h("progress", { "aria-label": `Reindex progress of ${generation.name}` });
  if (total > 0) {
    progress.max = total;
    progress.value = done;
  }
  return h("div", { className: "generation-progress" }, progress, text);
}

async function refreshGenerations() {
  let items;
  try {
    ({ items } = await request("/v1/generations"));
  } catch (error) {
    if (error.status !== 403) throw error;
    generationsAllowed = false;
    byId("generations-panel").hidden = true;
    return;
  }
  byId("generation-rows").replaceChildren(
    ...items.map((generation) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, generation.name),
        h(
          "td",
          {},
          badge(generation.status, `generation-${generation.status}`),
          generation.error_message ? h("p", { className: "error-text" }, generation.error_message) : null,
        ),
        h("td", {}, generation.embedding_model),
        h("td", {}, generationProgress(generation)),
        h("td", { className: "num" }, generation.points === null ? "—" : String(generation.points)),
        h("td", {}, formatTime(generation.live_at)),
      ),
    ),
  );
  if (items.length === 0) {
    byId("generation-rows").append(h("tr", {}, h("td", { colspan: 6, className: "muted" }, "No generations")));
  }
}

function renderInfo(info) {
  const rows = [
    ["Version", info.version],
    ["Authentication", info.auth ? "on" : "off"],
    ["Chat model", info.chat_model],
    ["Embedding model", info.embedding_model],
    ["Default search mode", info.search_mode],
    ["Default top k", String(info.top_k)],
  ];
  byId("configuration").replaceChildren(...rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
  const temporal = byId("temporal-link");
  const temporalUrl = /^https?:\/\//i.test(info.temporal_ui ?? "") ? info.temporal_ui : null;
  temporal.hidden = !temporalUrl;
  if (temporalUrl) temporal.href = temporalUrl;
  metricsPath = info.metrics;
  setText(byId("footer-info"), `ragstream ${info.version} · chat ${info.chat_model} · embeddings ${info.embedding_model}`);
}

function setMetricsShown(shown) {
  byId("metrics-panel").hidden = !shown;
  const button = byId("metrics-button");
  button.setAttribute("aria-expanded", String(shown));
  setText(button, shown ? "Hide metrics" : "Show metrics");
}

// Prometheus's text with ragstream's own families first (the process's and Python's after them).
function ragstreamFirst(text) {
  const families = text.trimEnd().split(/\n(?=# HELP )/);
  const own = families.filter((family) => family.startsWith("# HELP ragstream_"));
  const others = families.filter((family) => !family.startsWith("# HELP ragstream_"));
  return [...own, ...others].join("\n");
}

async function toggleMetrics() {
  if (!byId("metrics-panel").hidden) {
    setMetricsShown(false);
    return;
  }
  try {
    const response = await send(metricsPath);
    setText(byId("metrics-text"), ragstreamFirst(await response.text()));
    setMetricsShown(true);
    clearAlert("metrics");
  } catch (error) {
    report(error, "metrics");
  }
}

// How the deployment is set up, for the footer and the System view.
export async function loadInfo() {
  try {
    renderInfo(await request("/v1/system"));
    clearAlert("system-info");
  } catch (error) {
    report(error, "system-info");
  }
}

export function setup() {
  byId("metrics-button").addEventListener("click", toggleMetrics);
}

export function show(who) {
  caller = who;
  byId("system-counts-panel").hidden = !hasScope(caller, "documents:read");
  generationsAllowed = hasScope(caller, "admin");
  byId("generations-panel").hidden = !generationsAllowed;
  byId("metrics-button").hidden = !generationsAllowed;
  setMetricsShown(false);
  loadInfo();
  poll.start();
}

export function hide() {
  poll.stop();
}

// Forgets what the last caller saw (on sign-out).
export function reset() {
  hide();
  caller = null;
  generationsAllowed = false;
  byId("generation-rows").replaceChildren();
  setText(byId("metrics-text"), "");
  setMetricsShown(false);
  byId("system-counts").replaceChildren();
  setText(byId("footer-info"), "");
}
