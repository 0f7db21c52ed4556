// The console: sections chosen by the URL's fragment, the token kept in sessionStorage and
// sent as a bearer header, what the token may do learned from GET /auth/whoami, the engine its
// calls go to chosen in the header (GET /engines) and kept in sessionStorage too.

import { ApiError, chooseEngine, identify, loadEngines, loadSpec, session, setToken } from "./api.js";
import { renderContainers } from "./containers.js";
import { renderCourse } from "./course.js";
import { clear, h } from "./dom.js";
import { renderEvents } from "./events.js";
import { render as renderImages } from "./images.js";
import { renderRegistry } from "./registry.js";
import { renderNetworks, renderVolumes } from "./storage.js";

const VIEWS = {
  containers: { render: renderContainers, token: true },
  images: { render: renderImages, token: true },
  volumes: { render: renderVolumes, token: true },
  networks: { render: renderNetworks, token: true },
  registry: { render: renderRegistry, token: true },
  events: { render: renderEvents, token: true },
  course: { render: renderCourse, token: false },
};

let leaving = new AbortController();
let shown = null; // the section on the page: {key, show}
const main = document.getElementById("main");
const notice = document.getElementById("notice");

function tell(text, kind = "") {
  notice.textContent = text;
  notice.className = `notice ${kind}`.trim();
  notice.hidden = !text;
}

function showIdentity() {
  const identity = document.getElementById("identity");
  const input = document.getElementById("token");
  if (session.who) {
    // a team's token sees its team's objects only: say so where the token is named
    const team = session.who.team ? ` (team ${session.who.team})` : "";
    identity.textContent = `token ${session.who.name}${team}: ${session.who.scopes.join(", ") || "no scope"}`;
    input.placeholder = "token kept for this tab";
  } else {
    identity.textContent = session.token ? "token refused" : "no token";
    input.placeholder = "dy_…";
  }
}

// what the header says of an engine: its kind and version, or that it does not answer
function engineText(engine) {
  const state = engine.reachable ? [engine.kind, engine.version].filter(Boolean).join(" ") : "unreachable";
  return `${engine.name} · ${state}${engine.default ? " (default)" : ""}`;
}

// the engines the token may use, the tab's chosen: a choice when there are several, a plain
// label for one, nothing without a list
function showEngines() {
  const box = document.getElementById("engine-box");
  const select = document.getElementById("engine");
  const only = document.getElementById("engine-only");
  const engines = session.engines || [];
  box.hidden = !engines.length;
  select.hidden = engines.length < 2;
  only.hidden = engines.length !== 1;
  only.textContent = engines.length === 1 ? engineText(engines[0]) : "";
  clear(select, engines.map((engine) =>
    h("option", {
      value: engine.name,
      class: engine.reachable ? null : "unreachable",
      title: engine.error || null,
      dataset: { reachable: String(engine.reachable), default: String(engine.default) },
    }, engineText(engine))));
  const current = session.engine;
  if (!current) return;
  select.value = current.name;
  select.classList.toggle("unreachable", !current.reachable);
  select.title = current.error || engineText(current);
}

// the part of an address after the section's name: a container's name, a network's...
function detailOf(rest) {
  const text = rest.join("/");
  try {
    return decodeURIComponent(text) || null;
  } catch {
    return text || null;
  }
}

// The section the address names (#containers, #containers/web, #networks/backend...). Within the
// section on the page, another detail (or none: the list) is shown in place, by the section's
// own `show`: the list keeps its search, order and selection, and the back button returns to it.
// `fresh`: the whole section again (another token, another language).
async function route({ fresh = false } = {}) {
  const [name, ...rest] = location.hash.slice(1).split("/");
  const key = name in VIEWS ? name : "containers";
  const param = detailOf(rest);
  // a bookmark is named after the page it keeps
  const section = key[0].toUpperCase() + key.slice(1);
  const engine = session.engines?.length > 1 && session.engine ? ` on ${session.engine.name}` : "";
  document.title = `${param ? `${param} · ` : ""}${section}${engine} · Dockyard console`;
  if (!fresh && shown?.key === key && shown.show) {
    await shown.show(param);
    return;
  }
  shown = null;
  leaving.abort(); // the streams of the section left
  leaving = new AbortController();
  const signal = leaving.signal;
  for (const link of document.querySelectorAll("#nav a")) {
    link.toggleAttribute("aria-current", false);
    if (link.getAttribute("href") === `#${key}`) link.setAttribute("aria-current", "page");
  }
  const view = VIEWS[key];
  main.dataset.view = key;
  delete main.dataset.ready;
  if (view.token && !session.who) {
    clear(main, h("h2", {}, section),
      h("p", { class: "panel" }, "Paste a token of this service in the Token field above: the console calls the API with it, as ",
        h("code", {}, "Authorization: Bearer …"), ". It is kept in this tab only (sessionStorage). ",
        "Without a token, the ", h("a", { href: "#course" }, "course"), " is open to read."));
    return;
  }
  clear(main, h("p", { class: "muted" }, "loading…"));
  try {
    const rendered = await view.render(main, { signal, param, rerender: () => route({ fresh: true }) });
    if (signal.aborted) return;
    shown = { key, show: rendered?.show };
    main.dataset.ready = key;
  } catch (error) {
    if (error.name === "AbortError") return;
    clear(main, h("p", { class: "message error" }, error instanceof ApiError ? error.message : String(error)));
  }
}

async function useToken(token) {
  setToken(token);
  try {
    await identify();
    tell("");
  } catch (error) {
    session.who = null;
    tell(error instanceof ApiError ? error.message : String(error));
  }
  showIdentity();
  await loadEngines();
  showEngines();
}

document.getElementById("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  const value = input.value.trim();
  input.value = "";
  if (!value) return;
  await started;
  await useToken(value);
  await route({ fresh: true });
});

// the form is sent by this script alone (the page starts with its button disabled): a click
// before it ran would have been a native submission, which the page's policy blocks
document.querySelector("#token-form button[type=submit]").disabled = false;

document.getElementById("token-forget").addEventListener("click", async () => {
  await started;
  await useToken("");
  tell("The token is forgotten.", "info");
  await route({ fresh: true });
});

// another engine: the same section, its data from that engine
document.getElementById("engine").addEventListener("change", async (event) => {
  await started;
  chooseEngine(event.target.value);
  showEngines();
  await route({ fresh: true });
});

window.addEventListener("hashchange", async () => {
  await started;
  await route();
});

async function start() {
  try {
    await loadSpec();
  } catch (error) {
    tell(`The API's document could not be read: ${error.message}`);
  }
  if (session.token) await useToken(session.token);
  showIdentity();
  await route();
}

// A token given, an engine chosen or a section opened while the console still starts waits
// for it: the section is then drawn once, after the document and the token are known, and
// never cleared under the person by the start's own first drawing.
const started = start();
