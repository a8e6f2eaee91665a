// The Documents view: the live table of documents (status filter, filename search, pages), the counts
// by status, uploads with their progress, and reprocessing or deleting a document.

import { announce, clearAlert, report } from "./alert.js";
import { queryString, request, upload } from "./api.js";
import { byId, confirmAction, h, setText } from "./dom.js";
import { badge, formatBytes, formatTime, renderCounts, setBadge } from "./format.js";
import { hasScope } from "./identity.js";
import { poller } from "./poll.js";

const PAGE_SIZE = 25;
const REFRESH_MS = 1000;
const SEARCH_DEBOUNCE_MS = 250;
const UPLOADS_AT_ONCE = 3;

const state = {
  caller: null,
  offset: 0,
  status: "",
  filename: "",
  // Bumped by each change of filter or page: a response to an older one is not shown.
  version: 0,
  rows: new Map(),
};
const uploads = { queue: [], active: 0 };
const poll = poller(refresh, REFRESH_MS);

function canWrite() {
  return hasScope(state.caller, "documents:write");
}

async function refresh() {
  const version = state.version;
  const params = queryString({ limit: PAGE_SIZE, offset: state.offset, status: state.status, filename: state.filename });
  try {
    const [page, counts] = await Promise.all([request(`/v1/documents${params}`), request("/v1/documents/counts")]);
    if (version !== state.version) return;
    if (page.items.length === 0 && page.total > 0 && state.offset > 0) {
      goTo(Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE);
      return;
    }
    renderRows(page.items);
    renderPager(page);
    renderCounts(byId("document-counts"), counts);
    byId("reprocess-failed").hidden = !(canWrite() && counts.counts.failed > 0);
    clearAlert("documents");
  } catch (error) {
    report(error, "documents");
  }
}

function goTo(offset) {
  state.offset = offset;
  state.version += 1;
  poll.now();
}

function createRow(id) {
  const cell = (className) => h("td", { className });
  const row = {
    doc: null,
    filename: h("th", { scope: "row", className: "col-filename" }),
    status: badge("pending"),
    chunks: cell("num"),
    size: cell("num"),
    updated: h("time"),
    error: cell("col-error"),
    reprocess: h("button", { type: "button", className: "small secondary", onclick: () => reprocess(row) }, "Reprocess"),
    remove: h("button", { type: "button", className: "small danger-outline", onclick: () => remove(row) }, "Delete"),
    actions: h("div", { className: "row-actions" }),
  };
  row.tr = h(
    "tr",
    { "data-id": id },
    row.filename,
    h("td", {}, row.status),
    row.chunks,
    row.size,
    h("td", { className: "col-updated" }, row.updated),
    row.error,
    h("td", { className: "col-actions" }, row.actions),
  );
  return row;
}

function updateRow(row, doc) {
  row.doc = doc;
  setText(row.filename, doc.filename);
  setBadge(row.status, doc.status);
  // While a version is indexing, its chunks in the index so far show how far it has got.
  const indexing = doc.status === "indexing" && doc.indexed_chunks > 0;
  setText(row.chunks, indexing ? `${doc.indexed_chunks} so far` : String(doc.chunk_count));
  setText(row.size, formatBytes(doc.size_bytes));
  if (row.updated.dateTime !== doc.updated_at) row.updated.dateTime = doc.updated_at;
  setText(row.updated, formatTime(doc.updated_at));
  setText(row.error, doc.error_message ?? "");
  row.reprocess.setAttribute("aria-label", `Reprocess ${doc.filename}`);
  row.remove.setAttribute("aria-label", `Delete ${doc.filename}`);
  // Buttons a row does not offer are left out of it (not hidden), so that its text is only what applies.
  const offered = [
    [row.reprocess, canWrite() && doc.status === "failed"],
    [row.remove, canWrite() && doc.status !== "deleted"],
  ];
  const wanted = offered.filter(([, offer]) => offer).map(([button]) => button);
  const shown = [...row.actions.children];
  if (wanted.length === shown.length && wanted.every((button, i) => shown[i] === button)) return;
  const hadFocus = row.actions.contains(document.activeElement);
  row.actions.replaceChildren(...wanted);
  if (hadFocus) (wanted[0] ?? byId("documents-heading")).focus();
}

// Updates the table in place, keyed by document id: rows that stay keep their nodes (and focus).
function renderRows(items) {
  const body = byId("document-rows");
  const ids = new Set(items.map((doc) => doc.id));
  for (const [id, row] of state.rows) {
    if (ids.has(id)) continue;
    if (row.tr.contains(document.activeElement)) byId("documents-heading").focus();
    row.tr.remove();
    state.rows.delete(id);
  }
  let previous = null;
  for (const doc of items) {
    let row = state.rows.get(doc.id);
    if (!row) {
      row = createRow(doc.id);
      state.rows.set(doc.id, row);
    }
    updateRow(row, doc);
    const expected = previous ? previous.nextSibling : body.firstChild;
    if (row.tr !== expected) body.insertBefore(row.tr, expected);
    previous = row.tr;
  }
}

function renderPager(page) {
  const filtered = state.status !== "" || state.filename !== "";
  const text =
    page.total === 0
      ? filtered
        ? "No documents match"
        : "No documents yet"
      : `${page.offset + 1}–${page.offset + page.items.length} of ${page.total}`;
  setText(byId("document-range"), text);
  byId("documents-previous").disabled = state.offset === 0;
  byId("documents-next").disabled = state.offset + PAGE_SIZE >= page.total;
}

async function reprocess(row) {
  const doc = row.doc;
  row.reprocess.disabled = true;
  try {
    await request(`/v1/documents/${encodeURIComponent(doc.id)}/reprocess`, { method: "POST" });
    announce(`Reprocessing ${doc.filename}`);
    poll.now();
  } catch (error) {
    report(error);
  } finally {
    row.reprocess.disabled = false;
  }
}

// Every failed document of the caller's, each reprocessed in a workflow of its own.
async function reprocessFailed() {
  const button = byId("reprocess-failed");
  button.disabled = true;
  try {
    const started = await request("/v1/documents/reprocess", { method: "POST", json: { status: "failed" } });
    const skipped = started.skipped.length ? `; ${started.skipped.length} skipped` : "";
    announce(`Reprocessing ${started.workflows.length} failed documents${skipped}`);
    poll.now();
  } catch (error) {
    report(error);
  } finally {
    button.disabled = false;
  }
}

async function remove(row) {
  const doc = row.doc;
  const confirmed = await confirmAction({
    title: "Delete document",
    text: `Delete ${doc.filename}? Its file and its indexed chunks will be removed.`,
  });
  if (!confirmed) return;
  row.remove.disabled = true;
  try {
    await request(`/v1/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
    announce(`Deleting ${doc.filename}`);
    poll.now();
  } catch (error) {
    report(error);
  } finally {
    row.remove.disabled = false;
  }
}

function enqueueUploads(files) {
  const groups = byId("upload-groups").value.trim();
  const list = byId("uploads");
  for (const file of files) {
    const progress = h("progress", { max: 100, value: 0, "aria-label": `Upload of ${file.name}` });
    const result = h("span", { className: "upload-result", "aria-live": "polite" }, "queued");
    const item = h("li", { className: "upload" }, h("span", { className: "upload-name" }, file.name), progress, result);
    list.append(item);
    uploads.queue.push({ file, groups, item, progress, result });
  }
  startUploads();
}

function startUploads() {
  while (uploads.active < UPLOADS_AT_ONCE && uploads.queue.length > 0) {
    uploads.active += 1;
    runUpload(uploads.queue.shift()).finally(() => {
      uploads.active -= 1;
      startUploads();
    });
  }
}

async function runUpload({ file, groups, item, progress, result }) {
  result.textContent = "uploading";
  try {
    await upload(file, groups, (fraction) => {
      progress.value = Math.round(fraction * 100);
    });
    progress.value = 100;
    result.textContent = "uploaded";
    item.classList.add("upload-done");
    poll.now();
  } catch (error) {
    result.textContent = error.message;
    item.classList.add("upload-failed");
  }
}

function setupUploads() {
  const input = byId("upload-input");
  const zone = byId("drop-zone");
  input.addEventListener("change", () => {
    enqueueUploads([...input.files]);
    input.value = "";
  });
  const hasFiles = (event) => [...event.dataTransfer.types].includes("Files");
  zone.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("drag-over");
  });
  zone.addEventListener("dragleave", (event) => {
    if (!zone.contains(event.relatedTarget)) zone.classList.remove("drag-over");
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("drag-over");
    enqueueUploads([...event.dataTransfer.files]);
  });
  // A file dropped beside the zone must not make the browser leave the console to open it.
  window.addEventListener("dragover", (event) => {
    if (zone.contains(event.target) || !hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "none";
  });
  window.addEventListener("drop", (event) => {
    if (!zone.contains(event.target)) event.preventDefault();
  });
  byId("clear-uploads").addEventListener("click", () => {
    for (const item of byId("uploads").querySelectorAll(".upload-done, .upload-failed")) item.remove();
  });
}

function setupFilters() {
  const status = byId("filter-status");
  const filename = byId("filter-filename");
  let debounce = null;
  const apply = () => {
    clearTimeout(debounce);
    state.status = status.value;
    state.filename = filename.value.trim();
    goTo(0);
  };
  status.addEventListener("change", apply);
  filename.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(apply, SEARCH_DEBOUNCE_MS);
  });
  byId("document-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  byId("documents-previous").addEventListener("click", () => goTo(Math.max(0, state.offset - PAGE_SIZE)));
  byId("documents-next").addEventListener("click", () => goTo(state.offset + PAGE_SIZE));
}

export function setup() {
  setupFilters();
  setupUploads();
  byId("reprocess-failed").addEventListener("click", reprocessFailed);
}

export function show(caller) {
  state.caller = caller;
  byId("upload-panel").hidden = !canWrite();
  byId("documents-table").classList.toggle("read-only", !canWrite());
  poll.start();
}

export function hide() {
  poll.stop();
}

// Forgets what the last caller saw (on sign-out).
export function reset() {
  hide();
  state.rows.clear();
  byId("document-rows").replaceChildren();
  byId("uploads").replaceChildren();
  byId("document-counts").replaceChildren();
  byId("reprocess-failed").hidden = true;
  setText(byId("document-range"), "");
}
