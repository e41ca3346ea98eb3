// The control plane over fetch, and the one place that tells the user what happened.

export const BASE = "/_mock";

/** A refusal of the control plane (RFC 7807): `detail` says what was wrong. */
export class ProblemError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// -- the control token (docs/security.md) --------------------------------------------------------
// A mock started with --control-token wants it on every control-plane request. The banner's
// dashboard link carries it in the URL fragment, which browsers never send to the server; it is
// kept in sessionStorage (this tab only) and sent as X-Mock-Token. Without one, the first refusal
// asks for it.

const TOKEN_KEY = "mockserver-control-token";

function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search); // out of sight and history
}
takeTokenFromFragment();

/** The control token, if one is known. */
export function controlToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** `url` with the token as a query parameter (EventSource cannot send headers). */
export function withToken(url) {
  const token = controlToken();
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

let asking = null;

/** Ask the user for the token once, however many requests were refused meanwhile. */
function askToken() {
  asking ??= Promise.resolve().then(() => {
    const token = window.prompt("This mock server needs its control token (see its start-up banner):");
    if (token) sessionStorage.setItem(TOKEN_KEY, token.trim());
    asking = null;
    return Boolean(token);
  });
  return asking;
}

/** Call the control plane; resolve with the JSON body (or null for 204), reject with ProblemError. */
export async function api(method, path, body, retried = false) {
  const init = { method, headers: { accept: "application/json" } };
  // Writes are JSON even when empty: the control plane refuses any other (see docs/security.md).
  if (method !== "GET" && method !== "HEAD" && method !== "DELETE") init.headers["content-type"] = "application/json";
  if (body !== undefined) init.body = JSON.stringify(body);
  const token = controlToken();
  if (token) init.headers["x-mock-token"] = token;
  const response = await fetch(BASE + path, init);
  if (response.status === 401 && !retried && (await askToken())) return api(method, path, body, true);
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ProblemError(response.status, data?.detail ?? `HTTP ${response.status}`);
  return data;
}

/** Path segment, escaped (ids may hold any character). */
export const seg = encodeURIComponent;

let noticeTimer = 0;

/** Say what an action did (or why it failed) in the live status line. */
export function notify(message, isError = false) {
  const el = document.getElementById("notice");
  el.textContent = (isError ? "Error: " : "") + message;
  el.classList.toggle("error", isError);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (el.textContent = ""), isError ? 12000 : 5000);
}

/**
 * Run a user action: mark the control busy while it runs (not disabled: a disabled button loses
 * keyboard focus), report success or the problem's detail, then call `after` (a refresh).
 * Returns the action's result, or undefined when it failed or was already running.
 */
export async function act(control, action, success, after) {
  if (control?.getAttribute("aria-busy") === "true") return undefined;
  control?.setAttribute("aria-busy", "true");
  try {
    const result = await action();
    if (success) notify(typeof success === "function" ? success(result) : success);
    return result;
  } catch (error) {
    notify(error.message, true);
    return undefined;
  } finally {
    control?.removeAttribute("aria-busy");
    if (after) await after();
  }
}
