// The course: every concept of /concepts with its diagram, in French or English, each command
// with a "try it" button that calls the live endpoint, and the concept's live state.

import { ApiError, call, can, fetchRaw, scopeOf, seg, session } from "./api.js";
import { action, clear, confirmAction, h } from "./dom.js";
import { inline, markdown } from "./markdown.js";

const LANG_KEY = "dockyard.lang";
const TRY_TIMEOUT = 5000;
const TRY_BYTES = 64 * 1024;

function lang() {
  return sessionStorage.getItem(LANG_KEY) || "fr";
}

export async function renderCourse(main, { param, signal, rerender }) {
  const current = lang();
  const switcher = h("div", { class: "row", role: "group", "aria-label": "Language" },
    ["fr", "en"].map((code) => {
      const button = h("button", { type: "button", id: `lang-${code}`, lang: code, "aria-pressed": String(code === current) },
        code === "fr" ? "Français" : "English");
      button.addEventListener("click", () => {
        sessionStorage.setItem(LANG_KEY, code);
        rerender();
      });
      return button;
    }));
  const course = await call("GET", "/concepts", { query: { lang: current }, signal });
  const id = param || course.concepts[0].id;
  const nav = h("nav", { "aria-label": course.title },
    h("ol", {}, course.concepts.map((c) =>
      h("li", {}, h("a", { href: `#course/${c.id}`, "aria-current": c.id === id ? "true" : null, title: c.summary }, c.title)))));
  const article = h("article", { class: "concept", id: "concept", lang: current });
  clear(main,
    h("div", { class: "row" }, h("h2", {}, course.title), switcher),
    h("p", { class: "muted" }, course.summary),
    h("div", { class: "course" }, nav, article));
  document.documentElement.lang = current;
  await renderConcept(article, id, current, signal);
}

async function renderConcept(article, id, language, signal) {
  const live = can("read");
  const concept = await call("GET", `/concepts/${seg(id)}`, {
    query: { lang: language, live: live ? "true" : undefined },
    signal,
  });
  let diagram = null;
  if (concept.diagram) {
    const where = new URL(concept.diagram, location.href);
    diagram = h("figure", {},
      h("img", { class: "diagram", src: where.pathname + where.search, alt: `${concept.title}: diagram` }));
  }
  clear(article,
    h("h2", { id: "concept-title" }, concept.title),
    h("p", { class: "summary" }, h("strong", {}, concept.summary)),
    diagram,
    h("div", { class: "body" }, markdown(concept.body)),
    h("h3", {}, language === "fr" ? "À retenir" : "Key points"),
    h("ul", {}, concept.key_points.map((point) => h("li", {}, inline(point)))),
    liveState(concept, live, language),
    h("h3", {}, language === "fr" ? "Les commandes" : "Commands"),
    concept.commands.map((command, index) => commandBox(command, index, language)),
    concept.related.length
      ? h("p", {}, language === "fr" ? "Voir aussi : " : "See also: ",
          concept.related.map((other, i) => [i ? ", " : "", h("a", { href: `#course/${other}` }, other)]))
      : null);
}

function liveState(concept, live, language) {
  const title = language === "fr" ? "Sur ce moteur, maintenant" : "On this engine, now";
  if (!live) {
    return h("section", { class: "panel live", id: "concept-live" }, h("h3", {}, title),
      h("p", { class: "muted" }, "The live state needs a token with the `read` scope."));
  }
  const state = concept.live;
  if (!state) return null;
  const running = state.running === null ? "" : ` (${state.running} running)`;
  return h("section", { class: "panel live", id: "concept-live" }, h("h3", {}, title),
    h("p", {}, `${state.count} ${state.kind}${running}`),
    state.names.length ? h("ul", {}, state.names.map((name) => h("li", { class: "mono" }, name))) : null);
}

function commandBox(command, index, language) {
  const api = command.api;
  const scope = session.spec ? scopeOf(api.method, api.path) : "admin";
  const answer = h("div", { class: "answer", id: `try-answer-${index}`, "aria-live": "polite" });
  const button = action(language === "fr" ? "Essayer" : "Try it", scope, () => tryIt(api, answer), {
    class: "try", id: `try-${index}`, dataset: { method: api.method, path: api.path },
  });
  return h("div", { class: "command" },
    h("p", {}, h("code", {}, command.cli)),
    h("p", {}, command.explanation),
    h("p", { class: "mono" }, `${api.method} ${api.path}`),
    h("pre", { class: "light" }, command.curl),
    h("div", { class: "row" }, button),
    answer);
}

async function tryIt(api, out) {
  const path = api.path.replace(/\{(\w+)\}/g, (_, key) => seg((api.params || {})[key] ?? ""));
  if (api.method !== "GET") {
    const ok = await confirmAction(
      `This calls ${api.method} ${path} on the live engine, and may change it. Go on?`,
      api.body === null ? "" : JSON.stringify(api.body, null, 2),
      "Call it",
    );
    if (!ok) return;
  }
  clear(out, h("p", { class: "muted" }, `${api.method} ${path}…`));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TRY_TIMEOUT);
  try {
    const response = await fetchRaw(api.method, path, {
      query: api.query,
      body: api.body === null ? undefined : api.body,
      signal: controller.signal,
    });
    const { text, cut } = await readSome(response);
    const kind = response.headers.get("Content-Type") || "";
    let shown = text;
    if (kind.includes("json") && !cut) {
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        shown = text;
      }
    } else if (/tar|gzip|octet/.test(kind)) {
      shown = `${text.length}${cut ? "+" : ""} bytes of ${kind}`;
    }
    clear(out, h("p", { class: "ok" }, `${response.status} ${kind}${cut ? " (stream cut after a few seconds)" : ""}`),
      h("pre", { class: "try-output" }, shown));
  } catch (error) {
    if (error instanceof ApiError) {
      clear(out, h("p", { class: "bad" }, error.message),
        error.body ? h("pre", { class: "try-output" }, JSON.stringify(error.body, null, 2)) : null);
    } else {
      clear(out, h("p", { class: "bad" }, error.name === "AbortError" ? "no answer in time" : String(error)));
    }
  } finally {
    clearTimeout(timer);
  }
}

// the answer's first bytes: a stream (logs, events) is cut after a few seconds
async function readSome(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text, cut: false };
      text += decoder.decode(value, { stream: true });
      if (text.length >= TRY_BYTES) {
        await reader.cancel();
        return { text: text.slice(0, TRY_BYTES), cut: true };
      }
    }
  } catch (error) {
    if (error.name === "AbortError") return { text, cut: true };
    throw error;
  }
}
