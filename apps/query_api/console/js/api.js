// Same-origin calls to the ragstream API: adds the stored bearer token, turns JSON error bodies into
// ApiError, and tells the page when a call answers 401.

const TOKEN_KEY = "ragstream.token";

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

let unauthorized = () => {};

export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function authorization() {
  const token = storedToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function failure(status, body, fallback) {
  const error = new ApiError(status, body?.error?.code ?? "http_error", body?.error?.message ?? fallback);
  if (status === 401) unauthorized(error);
  return error;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return failure(response.status, body, `The server answered ${response.status} ${response.statusText}`.trim());
}

// The response of a call, or an ApiError; statuses in `accept` count as success (e.g. 503 of /readyz).
export async function send(path, { method = "GET", json, signal, accept = [] } = {}) {
  const headers = { Accept: "application/json", ...authorization() };
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      signal,
      cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "The server could not be reached");
  }
  if (!response.ok && !accept.includes(response.status)) throw await errorOf(response);
  return response;
}

// The parsed JSON body of a call (null for 204 No Content).
export async function request(path, options) {
  const response = await send(path, options);
  return response.status === 204 ? null : response.json();
}

export function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// Uploads one file as multipart (fetch cannot report upload progress, XMLHttpRequest can).
export function upload(file, groups, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    if (groups) form.append("groups", groups);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/documents");
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(authorization())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(failure(xhr.status, body, `The server answered ${xhr.status} ${xhr.statusText}`.trim()));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", "The upload could not reach the server")));
    xhr.send(form);
  });
}
