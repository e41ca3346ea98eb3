// Small DOM helpers. Text always goes in as text nodes (event texts and request bodies are user
// input): nothing here, or anywhere in the dashboard, assigns innerHTML.

/** Build an element: h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", child). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value") el.value = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Keep `parent`'s children in step with `items`, one element per key: existing elements are
 * updated in place (so focus, typed text and expanded state survive a refresh), new ones are
 * created, gone ones removed, and the order follows `items`.
 */
export function keyed(parent, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of parent.children) existing.set(child.dataset.key, child);
  let cursor = parent.firstElementChild;
  for (const item of items) {
    const key = String(keyOf(item));
    let el = existing.get(key);
    if (el) existing.delete(key);
    else {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    if (el !== cursor) parent.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const el of existing.values()) el.remove();
}

/** Set text only when it changed (no needless layout, no lost selection). */
export function setText(el, text) {
  const value = String(text ?? "");
  if (el.textContent !== value) el.textContent = value;
}

/** "10:30:01.234" (UTC, like the mock clock's ISO times) from unix seconds. */
export function clockTime(seconds) {
  return new Date(seconds * 1000).toISOString().slice(11, 23);
}

/** A long id cut to its first characters; the caller puts the whole id in a title. */
export function shortId(id, keep = 10) {
  return id.length > keep + 1 ? `${id.slice(0, keep)}…` : id;
}

/** Select options from [value, label] pairs, keeping the current choice when it still exists. */
export function setOptions(select, pairs) {
  const current = select.value;
  const signature = JSON.stringify(pairs);
  if (select.dataset.options === signature) return;
  select.dataset.options = signature;
  fill(
    select,
    pairs.map(([value, label]) => h("option", { value }, label)),
  );
  if (pairs.some(([value]) => value === current)) select.value = current;
}
