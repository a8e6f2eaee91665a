// The page's one alert (errors) and one status line (confirmations), shared by every view.

import { byId } from "./dom.js";

let alertSource = null;

export function showAlert(message, source = null) {
  byId("alert").textContent = message;
  alertSource = source;
}

// Clears the alert; given a source, only when the message shown came from that source.
export function clearAlert(source = null) {
  if (source !== null && source !== alertSource) return;
  byId("alert").textContent = "";
  alertSource = null;
}

// Shows a failed call's message; a 401 is not shown here (the sign-in form takes over) nor an abort.
export function report(error, source = null) {
  if (error.name === "AbortError" || error.status === 401) return;
  showAlert(error.message, source);
}

export function announce(message) {
  byId("status").textContent = message;
}
