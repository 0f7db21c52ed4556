// The console: sections chosen by the URL's fragment, the token kept in sessionStorage and
// sent as a bearer header, what the token may do learned from GET /auth/whoami.

import { ApiError, identify, loadSpec, session, setToken } from "./api.js";
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

async function route() {
  leaving.abort(); // the streams of the section left
  leaving = new AbortController();
  const signal = leaving.signal;
  const [name, ...rest] = location.hash.slice(1).split("/");
  const key = name in VIEWS ? name : "containers";
  for (const link of document.querySelectorAll("#nav a")) {
    link.toggleAttribute("aria-current", false);
    if (link.getAttribute("href") === `#${key}`) link.setAttribute("aria-current", "page");
  }
  const view = VIEWS[key];
  main.dataset.view = key;
  if (view.token && !session.who) {
    clear(main, h("h2", {}, key[0].toUpperCase() + key.slice(1)),
      h("p", { class: "panel" }, "Paste a token of this service in the Token field above: the console calls the API with it, as ",
        h("code", {}, "Authorization: Bearer …"), ". It is kept in this tab only (sessionStorage). ",
        "Without a token, the ", h("a", { href: "#course" }, "course"), " is open to read."));
    return;
  }
  clear(main, h("p", { class: "muted" }, "loading…"));
  try {
    await view.render(main, { signal, param: rest.join("/") || null, rerender: route });
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
}

document.getElementById("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  const value = input.value.trim();
  input.value = "";
  if (!value) return;
  await useToken(value);
  await route();
});

document.getElementById("token-forget").addEventListener("click", async () => {
  await useToken("");
  tell("The token is forgotten.", "info");
  await route();
});

window.addEventListener("hashchange", route);

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

start();
