// A terminal on a container: a session asked for with the token (POST), then a WebSocket that
// presents the session's single-use ticket (a browser sends no header on a WebSocket, and the
// token never goes in a URL); xterm.js draws it.

import { ApiError, call } from "./api.js";
import { action, field, h, say } from "./dom.js";
import { FitAddon } from "../vendor/xterm/addon-fit.mjs";
import { Terminal } from "../vendor/xterm/xterm.mjs";

const VENDOR = "/console/static/vendor/xterm";

// xterm.js writes its rules into <style> elements, which this page's policy (style-src 'self')
// refuses. A <style> made by script becomes an element that holds its rules in a constructed
// stylesheet instead (CSSOM, which the policy allows), adopted by the document while the
// element is in it. Nothing else on the page makes <style> elements.
class ScriptStyle extends HTMLElement {
  #sheet = new CSSStyleSheet();

  set textContent(css) {
    this.#sheet.replaceSync(css);
  }

  get textContent() {
    return [...this.#sheet.cssRules].map((rule) => rule.cssText).join("\n");
  }

  connectedCallback() {
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, this.#sheet];
  }

  disconnectedCallback() {
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== this.#sheet);
  }
}

function installStyles() {
  if (customElements.get("dockyard-style")) return;
  customElements.define("dockyard-style", ScriptStyle);
  const create = Document.prototype.createElement;
  Document.prototype.createElement = function createElement(tag, options) {
    const name = String(tag).toLowerCase() === "style" ? "dockyard-style" : tag;
    return create.call(this, name, options);
  };
  for (const href of [`${VENDOR}/xterm.css`, "/console/static/terminal.css"]) {
    document.head.append(h("link", { rel: "stylesheet", href }));
  }
}

const ENDINGS = {
  exited: (code) => `The process exited${code === null ? "" : ` with code ${code}`}.`,
  idle: () => "The terminal was idle too long, and was closed.",
  stopping: () => "The service is stopping: the terminal was closed.",
};

// `id`: the container's id as a path segment
export function terminalPanel(id, signal) {
  const state = h("p", { id: "terminal-state", class: "message", role: "status", hidden: true });
  const screen = h("div", { id: "terminal", class: "terminal-screen", hidden: true });
  const mode = h(
    "select",
    { id: "terminal-mode" },
    h("option", { value: "exec" }, "a shell (docker exec -it)"),
    h("option", { value: "attach" }, "its own TTY (docker attach)"),
  );
  const command = h("input", { id: "terminal-command", placeholder: "/bin/sh", spellcheck: "false" });
  let session = null;

  const openButton = action("Open terminal", "exec", () => open(), { id: "terminal-open" });
  const closeButton = h("button", { type: "button", id: "terminal-close", hidden: true }, "Close");
  closeButton.addEventListener("click", () => session && session.close("You closed the terminal."));
  mode.addEventListener("change", () => {
    command.disabled = mode.value === "attach";
  });
  signal.addEventListener("abort", () => session && session.close(""));

  async function open() {
    installStyles();
    openButton.disabled = true;
    screen.hidden = false;
    const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(screen);
    fit.fit();
    const body = { mode: mode.value, rows: term.rows, cols: term.cols };
    if (mode.value === "exec" && command.value.trim()) body.command = command.value.trim();
    let answer;
    try {
      answer = await ticket(body);
    } catch (error) {
      term.dispose();
      screen.hidden = true;
      openButton.disabled = false;
      say(state, error instanceof ApiError ? error.message : String(error), "error");
      return;
    }
    session = connect(answer, term, fit, body);
  }

  // a ticket for one connection: asking again changes nothing (an unused one expires)
  function ticket(body) {
    return call("POST", `/containers/${id}/terminal`, { body, repeat: true });
  }

  // a connection that never opened (Chromium fails those under way when the machine's
  // addresses change, as a Docker host's do when a container starts or stops) is made again
  // with a new ticket, twice at most; one that opened and closed is said closed
  function connect(answer, term, fit, body, attempt = 0) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${answer.path}`, [
      answer.protocol,
      `ticket.${answer.ticket}`,
    ]);
    ws.binaryType = "arraybuffer";
    const encoder = new TextEncoder();
    let ending = "";
    const send = (data) => ws.readyState === WebSocket.OPEN && ws.send(data);
    const typed = term.onData((data) => send(encoder.encode(data)));
    // bytes xterm.js gives as a string of char codes (some mouse reports)
    const raw = term.onBinary((data) => send(Uint8Array.from(data, (c) => c.charCodeAt(0))));
    const resized = term.onResize(({ rows, cols }) => send(JSON.stringify({ type: "resize", rows, cols })));
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(screen);

    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      say(state, `Connected to ${answer.container.slice(0, 12)}: type in the terminal.`, "ok");
      closeButton.hidden = false;
      screen.dataset.state = "open";
      term.focus();
    });
    ws.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        term.write(new Uint8Array(event.data));
        return;
      }
      const message = JSON.parse(event.data);
      if (message.type === "end") ending = (ENDINGS[message.reason] || (() => ""))(message.exit_code);
      else if (message.type === "error") say(state, message.message, "error");
    });
    ws.addEventListener("close", async () => {
      typed.dispose();
      raw.dispose();
      resized.dispose();
      observer.disconnect();
      if (!opened && !ending && !signal.aborted && attempt < 2) {
        try {
          session = connect(await ticket(body), term, fit, body, attempt + 1);
          return;
        } catch {
          // said below, as any terminal that closed
        }
      }
      term.options.disableStdin = true;
      screen.dataset.state = "closed";
      closeButton.hidden = true;
      openButton.disabled = false;
      session = null;
      if (!signal.aborted) say(state, ending || "The terminal was closed.", ending ? "" : "error");
    });
    return {
      close(text) {
        ending = text;
        ws.close(1000);
      },
    };
  }

  return h(
    "section",
    { class: "terminal-panel", "aria-labelledby": "terminal-title" },
    h("h4", { id: "terminal-title" }, "Terminal"),
    h(
      "div",
      { class: "row" },
      field("Open", mode),
      field("Command", command),
      openButton,
      closeButton,
    ),
    state,
    screen,
  );
}
