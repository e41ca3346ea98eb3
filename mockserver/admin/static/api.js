// The control plane over fetch, and the one place that tells the user what happened.

export const BASE = "/_mock";

/** A refusal of the control plane (RFC 7807): `detail` says what was wrong. */
export class ProblemError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** Call the control plane; resolve with the JSON body (or null for 204), reject with ProblemError. */
export async function api(method, path, body) {
  const init = { method, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(BASE + path, init);
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
