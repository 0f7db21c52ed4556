// Events: the engine's events as they happen, newest first.

import { stream } from "./api.js";
import { action, clear, h } from "./dom.js";

const KEEP = 300;

export async function renderEvents(main, { signal }) {
  const kind = h("select", { id: "events-type" },
    ["", "container", "image", "volume", "network", "daemon"].map((t) => h("option", { value: t }, t || "every type")));
  const feed = h("ol", { id: "events-feed", class: "events", reversed: true, "aria-live": "polite" });
  const state = h("p", { id: "events-state", class: "muted", role: "status" }, "stopped");
  let running = null;

  function start() {
    running?.abort();
    running = new AbortController();
    signal.addEventListener("abort", () => running?.abort(), { once: true });
    state.textContent = "connecting…";
    toggle.textContent = "Stop";
    const mine = running;
    stream("GET", "/system/events", (event) => {
      if (event.type === "heartbeat" || !event.action) return;
      const at = new Date((event.time || 0) * 1000).toLocaleTimeString();
      const attrs = event.attributes || {};
      // a volume's actor is its name, kept whole; an id is cut to its short form
      const actor = event.actor_id || "";
      const name = attrs.name || attrs.image || (/^[0-9a-f]{64}$/.test(actor) ? actor.slice(0, 12) : actor);
      feed.prepend(h("li", {}, `${at} ${event.type} ${event.action} ${name}`));
      while (feed.children.length > KEEP) feed.lastChild.remove();
    }, {
      query: { type: kind.value || undefined },
      signal: mine.signal,
      onOpen: () => { state.textContent = "listening…"; },
    })
      .catch((error) => { if (error.name !== "AbortError") state.textContent = error.message; })
      .finally(() => {
        if (running === mine) {
          running = null;
          toggle.textContent = "Listen";
          if (/^(listening|connecting)/.test(state.textContent)) state.textContent = "stopped";
        }
      });
  }

  const toggle = action("Listen", "read", () => {
    if (running) {
      running.abort();
      state.textContent = "stopped";
    } else {
      start();
    }
  }, { id: "events-toggle", class: "primary" });
  kind.addEventListener("change", () => { if (running) start(); });
  clear(main, h("h2", {}, "Engine events"),
    h("div", { class: "row" }, h("label", { for: "events-type" }, "Type"), kind, toggle,
      h("button", { type: "button", onclick: () => clear(feed) }, "Clear")),
    state, feed);
  if (!toggle.disabled) start();
}
