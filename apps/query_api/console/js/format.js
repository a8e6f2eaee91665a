// How values read in the console: sizes, times, scores, status badges and the counts summary.

import { h } from "./dom.js";

const DOCUMENT_STATUSES = ["pending", "indexing", "complete", "failed", "deleted"];

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function formatScore(score) {
  return Number(score).toFixed(3);
}

export function formatMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

// Where in its document a chunk comes from: "p. 3 · Introduction", or "" when unknown.
export function formatPlace(source) {
  const parts = [];
  if (source.page !== null && source.page !== undefined) parts.push(`p. ${source.page}`);
  if (source.section) parts.push(source.section);
  return parts.join(" · ");
}

export function badge(word, kind = word) {
  return h("span", { className: `badge badge-${kind}` }, word);
}

// Updates a badge in place (its word and colour) so that a live table keeps its nodes.
export function setBadge(element, word, kind = word) {
  const className = `badge badge-${kind}`;
  if (element.className !== className) element.className = className;
  if (element.textContent !== word) element.textContent = word;
}

// Replaces `list`'s items by one per status: "3 complete", each word in its badge colour.
export function renderCounts(list, counts) {
  list.replaceChildren(
    ...DOCUMENT_STATUSES.map((status) =>
      h("li", {}, h("span", { className: "count" }, String(counts.counts[status] ?? 0)), " ", badge(status)),
    ),
    h("li", { className: "count-total" }, `${counts.total} in all (deleted aside)`),
  );
}
