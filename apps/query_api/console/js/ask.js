// The Ask view: the caller's conversations, the transcript of the open one, and a question whose answer
// streams in token by token, its citation markers linked to the numbered sources.

import { announce, clearAlert, report, showAlert } from "./alert.js";
import { request, send } from "./api.js";
import { byId, confirmAction, h, setText } from "./dom.js";
import { formatMs, formatPlace, formatScore } from "./format.js";
import { readEvents } from "./sse.js";

const CONVERSATIONS_SHOWN = 50;
const SPEAKERS = { user: "You", assistant: "ragstream", system: "System" };
// [1] or [2, 3]: the markers the model is asked to cite its sources with.
const CITATION = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

const state = {
  conversationId: null,
  // The question being (or last) answered: {question, text, sources, committed, tail}.
  turn: null,
  controller: null,
};

function conversationTitle(conversation) {
  return conversation.title || "Untitled conversation";
}

// The text with each valid citation marker's numbers as links to their sources.
function withCitations(text, sources) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(CITATION)) {
    const numbers = match[1].split(",").map((n) => Number(n.trim()));
    if (!numbers.every((n) => n >= 1 && n <= sources.length)) continue;
    nodes.push(text.slice(last, match.index), "[");
    numbers.forEach((n, i) => {
      if (i > 0) nodes.push(", ");
      nodes.push(citationLink(n, sources[n - 1]));
    });
    nodes.push("]");
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes.filter((node) => node !== "");
}

function citationLink(n, source) {
  return h(
    "a",
    {
      href: `#source-${n}`,
      className: "citation",
      title: source.filename,
      onclick: (event) => {
        event.preventDefault();
        openSource(n);
      },
    },
    String(n),
  );
}

function openSource(n) {
  const item = byId(`source-${n}`);
  if (!item) return;
  item.querySelector("details").open = true;
  item.scrollIntoView({ block: "nearest" });
  item.focus({ preventScroll: true });
}

function sourceItem(source, n) {
  const place = formatPlace(source);
  return h(
    "li",
    { id: `source-${n}`, tabIndex: -1, className: "source" },
    h(
      "p",
      { className: "source-head" },
      h("span", { className: "source-n" }, `[${n}]`),
      h("span", { className: "source-file" }, source.filename),
      place ? h("span", { className: "source-place" }, place) : null,
      h("span", { className: "score" }, `score ${formatScore(source.score)}`),
    ),
    h("details", {}, h("summary", {}, "Show text"), h("p", { className: "chunk" }, source.text)),
  );
}

// Badges the sources the answer cites (the done event's citations, 1-based).
function markCited(citations) {
  for (const n of citations ?? []) {
    const head = byId(`source-${n}`)?.querySelector(".source-head");
    if (head) head.append(h("span", { className: "badge badge-cited" }, "cited"));
  }
}

// Adds a token to the answer; text up to an unclosed "[" is final, so its citations can be linked now.
function appendToken(turn, delta) {
  turn.text += delta;
  const open = turn.text.lastIndexOf("[");
  const cut = open > turn.text.lastIndexOf("]") ? open : turn.text.length;
  flush(turn, cut);
}

function flush(turn, cut = turn.text.length) {
  if (cut > turn.committed) {
    turn.tail.before(...withCitations(turn.text.slice(turn.committed, cut), turn.sources));
    turn.committed = cut;
  }
  turn.tail.data = turn.text.slice(turn.committed);
}

function messageItem(role, content, sources = [], interrupted = false) {
  const cited = sources
    .map((s, i) => [`[${i + 1}] ${s.filename}`, formatPlace(s)].filter(Boolean).join(" "))
    .join(" · ");
  return h(
    "li",
    { className: `message message-${role}` },
    h("p", { className: "message-role" }, SPEAKERS[role] ?? role),
    h("p", { className: "message-text" }, content),
    interrupted ? h("p", { className: "meta" }, "(interrupted)") : null,
    cited ? h("p", { className: "meta" }, `Sources: ${cited}`) : null,
  );
}

// Moves the last question and its answer into the transcript, making room for the next one.
function archiveTurn() {
  const turn = state.turn;
  if (turn) {
    const transcript = byId("transcript");
    transcript.append(messageItem("user", turn.question));
    if (turn.text) transcript.append(messageItem("assistant", turn.text, turn.sources));
  }
  clearTurn();
}

function clearTurn() {
  state.turn = null;
  byId("turn").hidden = true;
  setText(byId("turn-question"), "");
  byId("answer").replaceChildren();
  byId("sources").replaceChildren();
  setText(byId("answer-meta"), "");
}

function setBusy(busy) {
  byId("ask-button").disabled = busy;
  byId("answer").setAttribute("aria-busy", String(busy));
}

function queryBody(question) {
  const body = { query: question, stream: true };
  if (state.conversationId) body.conversation_id = state.conversationId;
  const mode = byId("ask-mode").value;
  if (mode) body.search_mode = mode;
  const topK = byId("ask-top-k").value;
  if (topK) body.top_k = Number(topK);
  return body;
}

async function ask(question) {
  archiveTurn();
  const turn = { question, text: "", sources: [], committed: 0, tail: document.createTextNode("") };
  const controller = new AbortController();
  state.turn = turn;
  state.controller = controller;
  byId("turn").hidden = false;
  setText(byId("turn-question"), question);
  byId("answer").replaceChildren(turn.tail);
  setBusy(true);
  clearAlert();
  let ended = false;
  try {
    const response = await send("/v1/query", { method: "POST", json: queryBody(question), signal: controller.signal });
    for await (const { event, data } of readEvents(response)) {
      const payload = JSON.parse(data);
      if (event === "sources") {
        turn.sources = payload.sources;
        byId("sources").replaceChildren(...payload.sources.map((s, i) => sourceItem(s, i + 1)));
      } else if (event === "token") {
        appendToken(turn, payload.delta);
      } else if (event === "done") {
        ended = true;
        finish(payload);
      } else if (event === "error") {
        ended = true;
        showAlert(payload.message);
      }
    }
    if (!ended) showAlert("The answer stopped before it was complete");
  } catch (error) {
    report(error);
  } finally {
    flush(turn);
    if (state.controller === controller) {
      state.controller = null;
      setBusy(false);
    }
  }
  loadConversations();
}

function finish(done) {
  state.conversationId = done.conversation_id;
  markCited(done.citations);
  const tokens = done.usage.completion_tokens;
  setText(byId("answer-meta"), `${done.model} · ${formatMs(done.timings.total_ms)} · ${tokens} tokens`);
}

function stopStreaming() {
  if (state.controller) state.controller.abort();
  state.controller = null;
  setBusy(false);
}

function markCurrent() {
  for (const button of byId("conversation-list").querySelectorAll("button[data-id]")) {
    if (button.dataset.id === state.conversationId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

async function loadConversations() {
  try {
    const page = await request(`/v1/conversations?limit=${CONVERSATIONS_SHOWN}`);
    renderConversations(page.items);
  } catch (error) {
    report(error);
  }
}

function renderConversations(items) {
  const list = byId("conversation-list");
  const hadFocus = list.contains(document.activeElement);
  list.replaceChildren(
    ...items.map((conversation) =>
      h(
        "li",
        { className: "conversation" },
        h(
          "button",
          {
            type: "button",
            className: "conversation-open",
            "data-id": conversation.id,
            onclick: () => openConversation(conversation.id),
          },
          conversationTitle(conversation),
        ),
        h(
          "button",
          {
            type: "button",
            className: "small ghost",
            "aria-label": `Delete conversation ${conversationTitle(conversation)}`,
            title: "Delete this conversation",
            onclick: () => deleteConversation(conversation),
          },
          "✕",
        ),
      ),
    ),
  );
  byId("conversations-empty").hidden = items.length > 0;
  markCurrent();
  if (hadFocus && !list.contains(document.activeElement)) byId("new-conversation").focus();
}

async function openConversation(id) {
  stopStreaming();
  try {
    const conversation = await request(`/v1/conversations/${encodeURIComponent(id)}`);
    state.conversationId = conversation.id;
    clearTurn();
    byId("transcript").replaceChildren(
      ...conversation.messages.map((m) =>
        messageItem(m.role, m.content, m.metadata?.sources ?? [], Boolean(m.metadata?.interrupted)),
      ),
    );
    markCurrent();
    clearAlert();
    byId("question").focus();
  } catch (error) {
    report(error);
  }
}

function startOver() {
  stopStreaming();
  state.conversationId = null;
  clearTurn();
  byId("transcript").replaceChildren();
  markCurrent();
}

function newConversation() {
  startOver();
  byId("question").focus();
}

async function deleteConversation(conversation) {
  const title = conversationTitle(conversation);
  const confirmed = await confirmAction({
    title: "Delete conversation",
    text: `Delete the conversation “${title}”? Its questions and answers will be removed.`,
  });
  if (!confirmed) return;
  try {
    await request(`/v1/conversations/${encodeURIComponent(conversation.id)}`, { method: "DELETE" });
    announce(`Deleted the conversation “${title}”`);
    if (state.conversationId === conversation.id) newConversation();
    await loadConversations();
  } catch (error) {
    report(error);
  }
}

export function setup() {
  const form = byId("ask-form");
  const question = byId("question");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text || state.controller) return;
    question.value = "";
    question.focus();
    ask(text);
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  byId("new-conversation").addEventListener("click", newConversation);
}

export function show() {
  loadConversations();
}

// Forgets the last caller's conversations (on sign-out).
export function reset() {
  startOver();
  byId("conversation-list").replaceChildren();
}
