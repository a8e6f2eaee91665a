// Building DOM nodes without innerHTML: h() makes an element with properties, attributes and children.

// Set as properties; every other name but on* (a listener) is set as an attribute.
const PROPERTIES = new Set(["className", "tabIndex", "value"]);

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    if (PROPERTIES.has(name)) element[name] = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, String(value));
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

export function byId(id) {
  return document.getElementById(id);
}

// Sets a node's text only when it differs, so that updating a live table disturbs nothing.
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

// Asks for confirmation in the page's modal dialog (Cancel focused, Escape cancels); resolves true when
// its Delete button is chosen.
export function confirmAction({ title, text }) {
  const dialog = byId("confirm-dialog");
  const opener = document.activeElement;
  byId("confirm-title").textContent = title;
  byId("confirm-text").textContent = text;
  dialog.returnValue = "";
  if (!dialog.open) dialog.showModal();
  byId("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(dialog.returnValue === "confirm");
      },
      { once: true },
    );
  });
}

export function setupConfirmDialog() {
  const dialog = byId("confirm-dialog");
  byId("confirm-ok").addEventListener("click", () => dialog.close("confirm"));
  byId("confirm-cancel").addEventListener("click", () => dialog.close("cancel"));
}
