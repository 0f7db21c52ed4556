// Building the page without innerHTML: every text goes in as a text node.

import { can } from "./api.js";


export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export function table(headers, rows, caption) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", { class: "muted" }, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows),
    ),
  );
}

// a field with its label; `input` is the control
export function field(text, input) {
  return h("label", { class: "field" }, h("span", {}, text), input);
}

// names with numbers in them order as people count: web-2 before web-10, 172.17.0.9 before .10
const ORDER = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

// `items` in the order `sort` ({by: a column's title, descending}) asks: by what the column's
// `key(item)` gives; ties by the first column that sorts, so the order never depends on luck
export function ordered(items, columns, sort) {
  const sorting = columns.filter((column) => column.key);
  const by = sorting.find((column) => column.title === sort.by);
  if (!by) return items;
  const compare = (column, a, b) => ORDER.compare(String(column.key(a) ?? ""), String(column.key(b) ?? ""));
  return [...items].sort((a, b) => compare(by, a, b) * (sort.descending ? -1 : 1) || compare(sorting[0], a, b));
}

// a table whose headers order it: `columns` are {title, key} (a column without a key does not
// sort); `items` come in the order `ordered` gave; a click on a header asks `onSort(title)` for
// the new order; `row(item)` makes an item's <tr>
export function sortedTable(columns, items, sort, onSort, row) {
  const headers = columns.map((column) => {
    if (!column.key) return h("th", { scope: "col" }, column.title);
    const current = column.title === sort.by;
    return h(
      "th",
      { scope: "col", "aria-sort": current ? (sort.descending ? "descending" : "ascending") : null },
      h("button", { type: "button", class: "sort", onclick: () => onSort(column.title) },
        column.title, h("span", { class: "arrow", "aria-hidden": "true" }, current ? (sort.descending ? "▼" : "▲") : "")),
    );
  });
  return h("div", { class: "table-wrap" },
    h("table", {}, h("thead", {}, h("tr", {}, headers)), h("tbody", {}, items.map(row))));
}

// the order a click on a column's header asks: by it, or by it the other way when it already was
export function toggleSort(sort, title) {
  sort.descending = sort.by === title ? !sort.descending : false;
  sort.by = title;
}

// a short id as a badge, never to be taken for a name (a name may be 64 hex digits too)
export function idBadge(shortId) {
  return h("span", { class: "id-badge", title: `id ${shortId}` }, h("span", { class: "id-kind" }, "id"), " ", shortId);
}

// an image reference that may break after each `/` only, never inside a name or a tag; an
// image id is cut to its short form (the whole id in its title)
export function reference(text) {
  if (/^sha256:[0-9a-f]{64}$/.test(text)) return h("span", { class: "ref", title: text }, text.slice(0, 19));
  const parts = String(text).split(/(?<=\/)/);
  return h("span", { class: "ref" }, parts.map((part, i) => [i ? h("wbr") : null, h("span", {}, part)]));
}

// the status line of a part of the page: ok, error or plain. A page shows one status line at a
// time: saying something here hides what another line of the page said before.
export function say(where, text, kind = "") {
  clear(where, text);
  where.className = `message ${kind}`.trim();
  where.hidden = !text;
  if (!text) return;
  for (const other of document.querySelectorAll("#main .message[role=status]")) {
    if (other !== where) other.hidden = true;
  }
}

// a question before something that changes the engine; resolves to true when confirmed
export function confirmAction(text, detail = "", okText = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  const pre = document.getElementById("confirm-detail");
  pre.textContent = detail;
  pre.hidden = !detail;
  document.getElementById("confirm-ok").textContent = okText;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// a time as the reader's locale writes it; a line may break between the date and the hour only
export function when(text) {
  if (!text) return "";
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return h("time", { datetime: text },
    h("span", { class: "nowrap" }, date.toLocaleDateString()), " ", h("span", { class: "nowrap" }, date.toLocaleTimeString()));
}

// labels as chips; a long one may break after its `=` only
export function labels(map) {
  return h("span", { class: "labels" }, Object.entries(map || {}).map(([k, v]) =>
    h("span", {}, h("span", { class: "nowrap" }, `${k}=`), h("wbr"), h("span", { class: "nowrap" }, v))));
}

// `KEY=value` lines into an object
export function pairs(text) {
  const found = {};
  for (const line of text.split(/\r?\n|,(?=\s*[\w.\/-]+=)/)) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.indexOf("=");
    if (at < 1) throw new Error(`"${trimmed}" is not KEY=value`);
    found[trimmed.slice(0, at)] = trimmed.slice(at + 1);
  }
  return found;
}

// a command line into words, with '…' and "…" quoting, as a shell splits it
export function words(text) {
  const found = [];
  let word = null;
  let quote = null;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word = word ?? "";
    } else if (/\s/.test(c)) {
      if (word !== null) found.push(word);
      word = null;
    } else if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + text[++i];
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote) throw new Error("a quote is not closed");
  if (word !== null) found.push(word);
  return found;
}

// offer text or a blob as a file the browser saves
export function saveFile(name, data, type = "text/plain") {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// a button for an action that needs `scope`: disabled, saying so, when the token lacks it
export function action(text, scope, onClick, attrs = {}) {
  const button = h("button", { type: "button", ...attrs }, text);
  if (scope && !can(scope)) {
    button.disabled = true;
    button.dataset.needs = scope;
    button.title = `needs the \`${scope}\` scope, which this token does not have`;
  } else if (onClick) {
    button.addEventListener("click", onClick);
  }
  return button;
}
