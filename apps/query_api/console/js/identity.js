// Who the console acts as: GET /v1/me with the stored token, the sign-in form, and the header line
// naming the tenant, user and scopes.

import { forgetToken, request, storeToken, storedToken } from "./api.js";
import { clearAlert, showAlert } from "./alert.js";
import { byId, setText } from "./dom.js";

export function hasScope(caller, scope) {
  return Boolean(caller) && caller.scopes.includes(scope);
}

// The caller, or null when the API wants credentials (401) that the stored token does not give.
export async function loadCaller() {
  try {
    return await request("/v1/me");
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}

export function showSignIn() {
  byId("caller").hidden = true;
  byId("sign-in").hidden = false;
}

export function showCaller(caller) {
  byId("sign-in").hidden = true;
  byId("caller").hidden = false;
  setText(byId("caller-tenant"), caller.tenant);
  setText(byId("caller-user"), caller.user);
  setText(byId("caller-scopes"), caller.scopes.length ? caller.scopes.join(", ") : "none");
  byId("sign-out").hidden = !storedToken();
}

export function setupIdentity({ signedIn, signedOut }) {
  const form = byId("sign-in-form");
  const input = byId("token-input");
  const button = byId("sign-in-button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    storeToken(token);
    try {
      const caller = await loadCaller();
      if (caller) {
        input.value = "";
        clearAlert();
        signedIn(caller);
      } else {
        forgetToken();
        showAlert("That token was not accepted");
        input.select();
      }
    } catch (error) {
      forgetToken();
      showAlert(error.message);
    } finally {
      button.disabled = false;
    }
  });
  byId("sign-out").addEventListener("click", () => {
    forgetToken();
    clearAlert();
    signedOut();
  });
}
