// The Retrieval test view: one query searched by meaning (dense), by words (sparse) and both (hybrid)
// side by side, with each chunk's score; chunks only one mode found are marked.

import { clearAlert } from "./alert.js";
import { request } from "./api.js";
import { byId, h, setText } from "./dom.js";
import { formatMs, formatPlace, formatScore } from "./format.js";

const MODES = ["dense", "sparse", "hybrid"];

let runs = 0;

const sourceKey = (source) => `${source.document_id}:${source.chunk_index}`;

function resultItem(source, rank) {
  const place = formatPlace(source);
  return h(
    "li",
    { className: "result", "data-key": sourceKey(source) },
    h(
      "p",
      { className: "source-head" },
      h("span", { className: "source-n" }, `#${rank}`),
      h("span", { className: "score" }, formatScore(source.score)),
      h("span", { className: "source-file" }, source.filename),
      place ? h("span", { className: "source-place" }, place) : null,
    ),
    h("details", {}, h("summary", {}, "Show text"), h("p", { className: "chunk" }, source.text)),
  );
}

function clearColumn(mode) {
  byId(`${mode}-results`).replaceChildren();
  setText(byId(`${mode}-timing`), "");
  const error = byId(`${mode}-error`);
  error.hidden = true;
  error.textContent = "";
}

function renderColumn(mode, outcome) {
  if (outcome.status === "rejected") {
    const error = byId(`${mode}-error`);
    error.textContent = outcome.reason.message;
    error.hidden = false;
    return;
  }
  const found = outcome.value;
  setText(byId(`${mode}-timing`), `search ${formatMs(found.search_ms)} · embed ${formatMs(found.embed_ms)}`);
  const list = byId(`${mode}-results`);
  list.replaceChildren(...found.sources.map((source, i) => resultItem(source, i + 1)));
  if (found.sources.length === 0) list.append(h("li", { className: "muted" }, "Nothing found"));
}

// Marks the chunks that only one of the modes that answered found.
function markUnique(outcomes) {
  const answered = outcomes.filter((outcome) => outcome.status === "fulfilled");
  if (answered.length < 2) return;
  const seen = new Map();
  for (const { value } of answered) {
    for (const key of new Set(value.sources.map(sourceKey))) seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  for (const item of byId("view-search").querySelectorAll("li.result")) {
    if (seen.get(item.dataset.key) !== 1) continue;
    item.classList.add("result-unique");
    item.querySelector(".source-head").append(h("span", { className: "tag" }, "only this mode"));
  }
}

async function search(query, topK) {
  const run = ++runs;
  const button = byId("search-button");
  button.disabled = true;
  MODES.forEach(clearColumn);
  clearAlert();
  const outcomes = await Promise.allSettled(
    MODES.map((mode) =>
      request("/v1/search", { method: "POST", json: topK ? { query, search_mode: mode, top_k: topK } : { query, search_mode: mode } }),
    ),
  );
  if (run !== runs) return;
  MODES.forEach((mode, i) => renderColumn(mode, outcomes[i]));
  markUnique(outcomes);
  button.disabled = false;
}

export function setup() {
  byId("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = byId("search-query").value.trim();
    if (!query) return;
    const topK = byId("search-top-k").value;
    search(query, topK ? Number(topK) : null);
  });
}

// Forgets the last caller's results (on sign-out).
export function reset() {
  runs += 1;
  MODES.forEach(clearColumn);
  byId("search-button").disabled = false;
}
