// The console's entry point: signs in (or not, when the API needs no token), then shows one view at a
// time from the location's hash (#/documents, #/ask, #/search, #/system), polling only the one shown.

import { announce, clearAlert, report, showAlert } from "./alert.js";
import { forgetToken, onUnauthorized } from "./api.js";
import * as ask from "./ask.js";
import * as documents from "./documents.js";
import { byId, setupConfirmDialog } from "./dom.js";
import { hasScope, loadCaller, setupIdentity, showCaller, showSignIn } from "./identity.js";
import * as retrieval from "./retrieval.js";
import * as system from "./system.js";

const VIEWS = {
  documents: { module: documents, scope: "documents:read" },
  ask: { module: ask, scope: "query" },
  search: { module: retrieval, scope: "query" },
  system: { module: system, scope: null },
};

let caller = null;
let current = null;

function allowed(name) {
  const view = VIEWS[name];
  return Boolean(view) && (view.scope === null || hasScope(caller, view.scope));
}

function section(name) {
  return byId(`view-${name}`);
}

function navLink(name) {
  return document.querySelector(`#nav a[href="#/${name}"]`);
}

function leaveView() {
  if (current === null) return;
  VIEWS[current].module.hide?.();
  section(current).hidden = true;
  navLink(current).removeAttribute("aria-current");
  current = null;
}

// Shows the view the hash names (the first one allowed when it names none, or one not allowed).
function route({ focus = true } = {}) {
  if (!caller) return;
  const hash = location.hash;
  if (hash && !hash.startsWith("#/")) return;
  const asked = hash.slice(2) || "documents";
  const name = allowed(asked) ? asked : Object.keys(VIEWS).find(allowed);
  if (name !== asked) history.replaceState(null, "", `#/${name}`);
  if (name === current) return;
  leaveView();
  current = name;
  section(name).hidden = false;
  navLink(name).setAttribute("aria-current", "page");
  VIEWS[name].module.show?.(caller);
  if (focus) section(name).querySelector("h2").focus();
}

function enter(who) {
  caller = who;
  showCaller(caller);
  for (const name of Object.keys(VIEWS)) navLink(name).parentElement.hidden = !allowed(name);
  byId("nav").hidden = false;
  system.loadInfo();
  route({ focus: false });
}

function leave() {
  leaveView();
  caller = null;
  byId("nav").hidden = true;
  for (const view of Object.values(VIEWS)) view.module.reset();
  showSignIn();
}

async function start() {
  try {
    const who = await loadCaller();
    if (who) enter(who);
    else {
      showSignIn();
      byId("token-input").focus();
    }
  } catch (error) {
    report(error);
  }
}

onUnauthorized(() => {
  if (!caller) return;
  forgetToken();
  leave();
  showAlert("Your token is no longer accepted: sign in again");
  byId("token-input").focus();
});

setupConfirmDialog();
setupIdentity({
  signedIn: (who) => {
    enter(who);
    section(current).querySelector("h2").focus();
  },
  signedOut: () => {
    leave();
    start();
  },
});
for (const view of Object.values(VIEWS)) view.module.setup?.();
window.addEventListener("hashchange", () => {
  clearAlert();
  announce("");
  route();
});
start();
