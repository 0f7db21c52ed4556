// Containers: the table (search, order, bulk stop and remove, lifecycle actions), the
// new-container form with the policy's decision first, and one container's page
// (#containers/<name>): its facts, live logs, exec, a terminal, stats and inspect.

import { call, can, newest, seg, stream } from "./api.js";
import { statsChart } from "./chart.js";
import { terminalPanel } from "./terminal.js";
import {
  action, bytes, clear, confirmAction, field, h, idBadge, labels, ordered, pairs, reference, saveFile,
  say, sortedTable, toggleSort, when, words,
} from "./dom.js";

// what `docker stop` waits by default before it kills
const STOP_TIMEOUT = 10;

// the verbs that may be sent again when a try got no answer (api.js): a second start or stop
// finds the state it asks for and leaves it; a second kill, pause or unpause is a 409 then,
// which means that the first did it. Restart is not among them: a second would restart again.
const REPEATS = { start: true, stop: true, kill: 409, pause: 409, unpause: 409 };

// the service's own containers: its volume helpers, and a Dockyard container (the API refuses
// to act on the one it runs in): shown, never offered an action
function isOwn(container) {
  return "dockyard.helper" in container.labels
    || container.labels["org.opencontainers.image.title"] === "Dockyard";
}

// a healthcheck's verdict, as the list states it in the status (`Up 2 minutes (healthy)`);
// null for a container without a healthcheck
export function health(status) {
  const found = /\((healthy|unhealthy|health: starting)\)/.exec(status || "");
  return found ? found[1].replace("health: ", "") : null;
}

function healthCell(verdict) {
  return verdict
    ? h("span", { class: `health health-${verdict}` }, verdict)
    : h("span", { class: "muted", title: "no healthcheck" }, "—");
}

// the container's address on each of its networks
function addresses(container) {
  const found = (container.networks || []).filter((n) => n.ip_address);
  if (!found.length) return h("span", { class: "muted" }, "—");
  return found.map((n) => h("div", { title: `on ${n.name}` }, n.ip_address));
}

const detailHref = (name) => `#containers/${encodeURIComponent(name)}`;

export async function renderContainers(main, { signal, param }) {
  const message = h("p", { class: "message", role: "status", hidden: true });
  const search = h("input", { id: "container-search", type: "search", placeholder: "part of a name", size: 18 });
  const filter = h("input", { id: "container-filter", placeholder: "key=value", size: 24 });
  const all = h("input", { type: "checkbox", id: "container-all", checked: true });
  const timeout = h("input", { id: "stop-timeout", type: "number", min: 0, max: 3600, step: 1, value: STOP_TIMEOUT, class: "seconds" });
  const list = h("div", { id: "container-list" });
  const picking = h("span", { id: "container-picked", class: "muted" });
  const bulkStop = action("Stop selected", "operate", () => bulk("stop"), { id: "bulk-stop" });
  const bulkRemove = action("Remove selected", "write", () => bulk("remove"), { id: "bulk-remove", class: "danger" });
  const detail = h("section", { id: "container-detail", hidden: true });
  const detailMessage = h("p", { id: "container-detail-message", class: "message", role: "status", hidden: true });
  let containers = []; // the last list the API gave
  let shown = []; // those the search lets through, in the table's order
  let pickAll = null; // the header's checkbox: every row shown
  const picked = new Set(); // ids of the selected rows
  const sort = { by: "Name", descending: false };
  let detailAbort = null;

  // the seconds stop and restart give a container to end before it is killed
  function seconds() {
    const value = Number.parseInt(timeout.value, 10);
    return Number.isFinite(value) ? Math.min(Math.max(value, 0), 3600) : STOP_TIMEOUT;
  }

  const latest = newest();
  async function refresh() {
    const query = { all: all.checked ? "true" : "false", label: filter.value.trim() || undefined };
    try {
      containers = await latest(call("GET", "/containers", { query, signal }));
      draw();
    } catch (error) {
      if (error.name !== "AbortError") say(message, error.message, "error");
    }
  }

  function draw() {
    const term = search.value.trim().toLowerCase();
    pickAll = h("input", { type: "checkbox", id: "container-pick-all", "aria-label": "select every container shown" });
    pickAll.addEventListener("change", () => {
      for (const c of shown) {
        if (isOwn(c)) continue;
        if (pickAll.checked) picked.add(c.id);
        else picked.delete(c.id);
      }
      for (const box of list.querySelectorAll("input.pick")) box.checked = picked.has(box.dataset.id);
      counted();
    });
    const columns = [
      { title: pickAll },
      { title: "Name", key: (c) => c.name },
      { title: "Image", key: (c) => c.image },
      { title: "State", key: (c) => c.state },
      { title: "Health", key: (c) => health(c.status) },
      { title: "IP address", key: (c) => c.networks.map((n) => n.ip_address).find(Boolean) },
      { title: "Ports" },
      { title: "Created", key: (c) => c.created },
      { title: "Actions" },
    ];
    shown = ordered(containers.filter((c) => c.name.toLowerCase().includes(term)), columns, sort);
    // what is selected is what shows: a row the search hides is no longer selected
    const ids = new Set(shown.map((c) => c.id));
    for (const id of picked) if (!ids.has(id)) picked.delete(id);
    if (shown.length) {
      clear(list, sortedTable(columns, shown, sort, (title) => {
        toggleSort(sort, title);
        draw();
      }, containerRow));
    } else {
      clear(list, h("p", { class: "muted" }, containers.length ? "No container's name has that in it." : "No container matches."));
    }
    counted();
  }

  // the bulk bar and the select-all box say how many rows are selected
  function counted() {
    picking.textContent = picked.size ? `${picked.size} selected` : "none selected";
    if (can("operate")) bulkStop.disabled = !picked.size;
    if (can("write")) bulkRemove.disabled = !picked.size;
    const choosable = shown.filter((c) => !isOwn(c));
    pickAll.checked = choosable.length > 0 && choosable.every((c) => picked.has(c.id));
    pickAll.indeterminate = !pickAll.checked && choosable.some((c) => picked.has(c.id));
  }

  function containerRow(c) {
    const pick = h("input", {
      type: "checkbox", class: "pick", "aria-label": `select ${c.name}`, dataset: { id: c.id },
      checked: picked.has(c.id), disabled: isOwn(c),
    });
    pick.addEventListener("change", () => {
      if (pick.checked) picked.add(c.id);
      else picked.delete(c.id);
      counted();
    });
    return h(
      "tr",
      { dataset: { id: c.id, name: c.name } },
      h("td", { class: "pick" }, pick),
      h("td", { class: "name" }, h("a", { href: detailHref(c.name) }, c.name), h("br"), idBadge(c.short_id)),
      h("td", { class: "mono" }, reference(c.image)),
      h("td", { class: `state state-${c.state}` }, c.state, h("br"), h("span", { class: "muted" }, c.status)),
      h("td", {}, healthCell(health(c.status))),
      h("td", { class: "mono nowrap" }, addresses(c)),
      h("td", { class: "nowrap" }, ports(c.ports)),
      h("td", {}, when(c.created)),
      h("td", { class: "actions" }, h("div", { class: "buttons" }, buttons(c, message, refresh))),
    );
  }

  // a verb on a container, asked first when it stops it; false when the question was declined
  async function lifecycle(container, verb, status) {
    const ask = { stop: "Stop", restart: "Restart", kill: "Kill" }[verb];
    const why = verb === "kill" ? "It gets SIGKILL at once: no time to finish its work." : "";
    if (ask && !(await confirmAction(`${ask} the container ${container.name}?`, why, ask))) return false;
    try {
      await call("POST", `/containers/${seg(container.id)}/${verb}`, {
        query: verb === "stop" || verb === "restart" ? { timeout: seconds() } : {},
        repeat: REPEATS[verb],
      });
      say(status, `${verb}: ${container.name} done`, "ok");
    } catch (error) {
      say(status, error.message, "error");
    }
    return true;
  }

  async function remove(container, status) {
    const ok = await confirmAction(
      `Remove the container ${container.name}?`,
      container.state === "running" ? "It is running: it will be killed first (force)." : "",
      "Remove",
    );
    if (!ok) return false;
    try {
      await call("DELETE", `/containers/${seg(container.id)}`, { query: { force: "true" } });
      say(status, `removed ${container.name}`, "ok");
      return true;
    } catch (error) {
      say(status, error.message, "error");
      return false;
    }
  }

  // a container's actions; `status` says how one went, then `done(removed)` shows the new state
  function buttons(c, status, done) {
    if (isOwn(c)) return h("span", { class: "muted" }, "Dockyard's own");
    const running = c.state === "running";
    const live = running || c.state === "paused" || c.state === "restarting";
    const verb = (name) => async () => {
      if (await lifecycle(c, name, status)) await done(false);
    };
    return [
      c.state === "paused"
        ? action("Unpause", "operate", verb("unpause"))
        : running
          ? action("Stop", "operate", verb("stop"))
          : action("Start", "operate", verb("start")),
      running ? action("Pause", "operate", verb("pause")) : null,
      action("Restart", "operate", verb("restart")),
      live ? action("Kill", "operate", verb("kill")) : null,
      action("Remove", "write", async () => {
        if (await remove(c, status)) await done(true);
      }, { class: "danger" }),
    ];
  }

  // stop or remove exactly the selected containers, after one question naming them all
  async function bulk(verb) {
    const chosen = shown.filter((c) => picked.has(c.id));
    if (!chosen.length) return;
    const names = chosen.map((c) => c.name);
    const what = `${chosen.length} container${chosen.length > 1 ? "s" : ""}`;
    const question = verb === "stop"
      ? `Stop ${what}? Each gets ${seconds()} s to end before it is killed.`
      : `Remove ${what}? Running ones are killed first (force).`;
    if (!(await confirmAction(question, names.join("\n"), verb === "stop" ? "Stop" : "Remove"))) return;
    const failed = [];
    await Promise.all(chosen.map(async (c) => {
      try {
        if (verb === "stop") {
          await call("POST", `/containers/${seg(c.id)}/stop`, { query: { timeout: seconds() }, repeat: REPEATS.stop });
        } else {
          await call("DELETE", `/containers/${seg(c.id)}`, { query: { force: "true" } });
        }
      } catch (error) {
        failed.push(`${c.name}: ${error.message}`);
      }
    }));
    picked.clear();
    const done = `${verb === "stop" ? "stopped" : "removed"} ${names.join(", ")}`;
    if (failed.length) say(message, `${failed.length} of ${what} failed. ${failed.join(" ")}`, "error");
    else say(message, done, "ok");
    await refresh();
  }

  // #containers/<name>: the container's page instead of the list; none: the list again
  async function show(name, { keepMessage = false } = {}) {
    detailAbort?.abort();
    detailAbort = null;
    if (!keepMessage) say(detailMessage, "");
    if (!name) {
      clear(detail);
      detail.hidden = true;
      listPage.hidden = false;
      await refresh();
      return;
    }
    listPage.hidden = true;
    detail.hidden = false;
    const mine = new AbortController();
    detailAbort = mine;
    signal.addEventListener("abort", () => mine.abort(), { once: true });
    const back = h("p", {}, h("a", { href: "#containers", class: "back" }, "← All containers"));
    clear(detail, back, h("p", { class: "muted" }, "loading…"));
    try {
      const container = await call("GET", `/containers/${seg(name)}`, { signal: mine.signal });
      // after an action, the page again with its new state; once removed, the list says so
      const reload = async (removed) => {
        if (!removed) return show(name, { keepMessage: true });
        say(message, detailMessage.textContent, "ok");
        location.hash = "#containers";
      };
      clear(detail, back, containerDetail(container, mine.signal, buttons(container, detailMessage, reload), detailMessage));
      if (!keepMessage) detail.querySelector("h2")?.focus(); // a page opened: read from its title
    } catch (error) {
      if (error.name !== "AbortError") clear(detail, back, h("p", { class: "message error" }, error.message));
    }
  }

  const form = newContainerForm(async (created) => {
    await refresh();
    location.hash = detailHref(created.name);
  });
  const refreshButton = h("button", { type: "button", onclick: refresh }, "Refresh");
  const listPage = h(
    "div",
    { id: "container-list-page" },
    h("h2", {}, "Containers"),
    form,
    h(
      "div",
      { class: "row controls" },
      h("label", { for: "container-search" }, "Search"),
      search,
      h("label", { for: "container-filter" }, "Label filter"),
      filter,
      h("label", {}, all, " stopped ones too"),
      h("label", { for: "stop-timeout" }, "Stop timeout (s)"),
      timeout,
      refreshButton,
    ),
    h("div", { class: "row bulk", role: "group", "aria-label": "Selected containers" }, picking, bulkStop, bulkRemove),
    message,
    list,
  );
  clear(main, listPage, detail);
  search.addEventListener("input", draw);
  filter.addEventListener("change", refresh);
  all.addEventListener("change", refresh);
  await show(param);
  return { show };
}

function ports(list) {
  if (!list?.length) return h("span", { class: "muted" }, "—");
  return list.map((p) => {
    if (!p.host_port) return h("div", {}, `${p.container_port}/${p.protocol}`);
    let host = !p.host_ip || p.host_ip === "0.0.0.0" || p.host_ip === "::" ? location.hostname : p.host_ip;
    if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
    const href = `http://${host}:${p.host_port}/`;
    return h("div", {}, h("a", { href, rel: "noopener noreferrer", target: "_blank" }, `${host}:${p.host_port}`), ` → ${p.container_port}/${p.protocol}`);
  });
}

function newContainerForm(onCreated) {
  const input = (id, attrs = {}) => h("input", { id, ...attrs });
  // one example a line: the placeholder shows whole in the box
  const area = (id, placeholder, rows = 2) => h("textarea", { id, rows, placeholder });
  const image = input("nc-image", { required: true, placeholder: "busybox:latest", list: "nc-images" });
  const name = input("nc-name", { placeholder: "made up when empty" });
  const command = input("nc-command", { placeholder: 'sh -c "echo hello; sleep 60"' });
  const env = area("nc-env", "KEY=value, one a line");
  const portsField = area("nc-ports", "8080:80\n127.0.0.1:8080:80/tcp\n(one a line)", 3);
  const mounts = area("nc-mounts", "volume:name:/data\nbind:/srv:/srv:ro\ntmpfs:/tmp", 3);
  const network = h("select", { id: "nc-network" }, h("option", { value: "" }, "default (bridge)"));
  const labelsField = area("nc-labels", "key=value, one a line");
  const start = input("nc-start", { type: "checkbox", checked: true });
  const images = h("datalist", { id: "nc-images" });
  const decision = h("div", { id: "nc-decision", class: "message", role: "status", hidden: true });

  function body() {
    const found = { image: image.value.trim(), start: start.checked };
    if (!found.image) throw new Error("an image is needed");
    if (name.value.trim()) found.name = name.value.trim();
    if (command.value.trim()) found.command = words(command.value.trim());
    if (env.value.trim()) found.env = pairs(env.value);
    if (labelsField.value.trim()) found.labels = pairs(labelsField.value);
    if (network.value) found.network = network.value;
    const portList = portsField.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    if (portList.length) found.ports = portList.map(parsePort);
    const mountList = mounts.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    if (mountList.length) found.mounts = mountList.map(parseMount);
    return found;
  }

  async function check() {
    let request;
    try {
      request = body();
    } catch (error) {
      say(decision, error.message, "error");
      return null;
    }
    try {
      // a decision changes nothing: it may be asked again
      const answer = await call("POST", "/containers/decision", { body: request, repeat: true });
      // an allowed create's message is "allowed": said once
      const text = answer.allowed
        ? `Policy: allowed.${answer.message && answer.message !== "allowed" ? ` ${answer.message}` : ""}`
        : `Policy: refused by rule \`${answer.rule}\`. ${answer.message}`;
      say(decision, text, answer.allowed ? "ok" : "error");
      return answer.allowed ? request : null;
    } catch (error) {
      say(decision, error.message, "error");
      return null;
    }
  }

  async function create() {
    const request = await check();
    if (!request) return;
    const verb = request.start ? "Create and start" : "Create";
    const ok = await confirmAction(`${verb} a container from ${request.image}?`, decision.textContent, verb);
    if (!ok) return;
    try {
      const created = await call("POST", "/containers", { body: request });
      say(decision, `Created ${created.name} (${created.short_id}), ${created.state}.`, "ok");
      fields.reset(); // the next container starts from an empty form
      await onCreated(created);
    } catch (error) {
      say(decision, error.message, "error");
    }
  }

  const fields = h(
    "form",
    { class: "grid" },
    field("Image", image),
    field("Name", name),
    field("Command", command),
    field("Network", network),
    field("Environment", env),
    field("Ports (host:container)", portsField),
    field("Mounts", mounts),
    field("Labels", labelsField),
  );
  fields.addEventListener("submit", (event) => event.preventDefault());
  const details = h(
    "details",
    { class: "panel", id: "new-container" },
    h("summary", {}, "New container"),
    fields,
    images,
    h(
      "div",
      { class: "row" },
      h("label", {}, start, " start it"),
      action("Check with the policy", "write", check, { id: "nc-check" }),
      action("Create", "write", create, { id: "nc-create", class: "primary" }),
    ),
    decision,
  );
  details.addEventListener("toggle", async () => {
    if (!details.open || !can("read")) return;
    try {
      const [imageList, networks] = await Promise.all([call("GET", "/images"), call("GET", "/networks")]);
      clear(images, imageList.flatMap((i) => i.tags).map((tag) => h("option", { value: tag })));
      clear(network, h("option", { value: "" }, "default (bridge)"), networks.map((n) => h("option", { value: n.name }, n.name)));
    } catch {
      // the fields stay free text
    }
  });
  return details;
}

function parsePort(text) {
  const found = text.match(/^(?:(\[[0-9a-fA-F:]+\]|[\d.]+):)?(?:(\d+):)?(\d+)(?:\/(tcp|udp|sctp))?$/);
  if (!found) throw new Error(`"${text}" is not a port: host:container, ip:host:container`);
  const port = { container_port: Number(found[3]), protocol: found[4] || "tcp" };
  if (found[2]) port.host_port = Number(found[2]);
  if (found[1]) port.host_ip = found[1].replace(/^\[|\]$/g, "");
  return port;
}

function parseMount(text) {
  const [type, ...rest] = text.split(":");
  if (type === "tmpfs" && rest.length === 1) return { type, target: rest[0] };
  if ((type === "volume" || type === "bind") && rest.length >= 2) {
    return { type, source: rest[0], target: rest[1], read_only: rest[2] === "ro" };
  }
  throw new Error(`"${text}" is not a mount: volume:name:/target, bind:/src:/target[:ro], tmpfs:/target`);
}

// the container's page: what it is (name plain, id in a badge), its actions, then its panels
function containerDetail(container, signal, actions, status) {
  const id = seg(container.id);
  const verdict = container.state_detail?.health ?? null;
  return h(
    "div",
    { class: "panel detail" },
    h("h2", { tabindex: -1 }, h("span", { class: "name" }, container.name), " ", idBadge(container.short_id)),
    h("div", { class: "row buttons" }, actions),
    status,
    facts([
      ["State", h("span", { class: `state state-${container.state}` }, container.state), " ", h("span", { class: "muted" }, container.status)],
      ["Health", healthCell(verdict && verdict !== "none" ? verdict : null)],
      ["Image", h("span", { class: "mono" }, reference(container.image))],
      ["Command", h("code", {}, container.command || "")],
      ["Created", when(container.created)],
      ["Networks", container.networks.length
        ? container.networks.map((n) => h("div", {}, n.name, " ", h("span", { class: "mono" }, n.ip_address || "—")))
        : h("span", { class: "muted" }, "—")],
      ["Ports", ports(container.ports)],
      ["Mounts", container.mounts.length
        ? container.mounts.map((m) => h("div", { class: "mono" }, `${m.type} ${m.name || m.source || ""} → ${m.destination}${m.read_only ? " (read-only)" : ""}`))
        : h("span", { class: "muted" }, "—")],
      ["Labels", labels(container.labels)],
    ]),
    logsPanel(container, id, signal),
    execPanel(id),
    terminalPanel(id, signal),
    statsPanel(id, signal),
    inspectPanel(id),
  );
}

function facts(rows) {
  return h("dl", { class: "facts" }, rows.map(([term, ...value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

// lines a log panel keeps: older ones leave the page (and the download)
const KEEP_LINES = 5000;
const TAILS = [["100", "last 100 lines"], ["200", "last 200 lines"], ["1000", "last 1000 lines"], ["", "every line"]];

// the live logs: pause, timestamps, wrap, the lines asked first (tail), and a search that
// shows only the lines with the text in them, the text marked
function logsPanel(container, id, signal) {
  const out = h("pre", { id: "logs", class: "log", role: "log", tabindex: 0, "aria-label": "logs" });
  const state = h("p", { id: "logs-state", class: "muted", role: "status" });
  const found = h("span", { id: "logs-found", class: "muted", "aria-live": "polite" });
  const stamps = h("input", { type: "checkbox", id: "logs-timestamps" });
  const wrap = h("input", { type: "checkbox", id: "logs-wrap", checked: true });
  const tail = h("select", { id: "logs-tail", "aria-label": "lines shown first" },
    TAILS.map(([value, text]) => h("option", { value, selected: value === "200" }, text)));
  const find = h("input", { id: "logs-search", type: "search", placeholder: "find in the logs", size: 18, "aria-label": "find in the logs" });
  const lines = []; // {time, text, node}
  let held = [];
  let paused = false;
  let following = null;

  const pause = h("button", { type: "button", id: "logs-pause", "aria-pressed": "false" }, "Pause");
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) {
      out.append(...held.map((line) => line.node));
      held = [];
      out.scrollTop = out.scrollHeight;
    }
    state.textContent = paused ? "paused: new lines are held" : "following";
  });
  const download = h("button", { type: "button", id: "logs-download" }, "Download");
  download.addEventListener("click", () => saveFile(`${container.name}.log`,
    lines.map((line) => (stamps.checked && line.time ? `${line.time} ` : "") + line.text).join("")));
  stamps.addEventListener("change", () => out.classList.toggle("stamped", stamps.checked));
  wrap.addEventListener("change", () => out.classList.toggle("nowrap", !wrap.checked));
  find.addEventListener("input", () => {
    for (const line of lines) mark(line);
    count();
  });
  tail.addEventListener("change", () => follow());

  // the line shown, or hidden when the search is not in it; what matches is marked
  function mark(line) {
    const term = find.value;
    const text = line.node.lastChild;
    if (!term) {
      line.node.hidden = false;
      text.replaceChildren(line.text);
      return;
    }
    const lower = line.text.toLowerCase();
    const wanted = term.toLowerCase();
    line.node.hidden = !lower.includes(wanted);
    if (line.node.hidden) return;
    const parts = [];
    let at = 0;
    for (let i = lower.indexOf(wanted); i >= 0; i = lower.indexOf(wanted, at)) {
      parts.push(line.text.slice(at, i), h("mark", {}, line.text.slice(i, i + term.length)));
      at = i + term.length;
    }
    parts.push(line.text.slice(at));
    text.replaceChildren(...parts);
  }

  function count() {
    found.textContent = find.value
      ? `${lines.filter((line) => !line.node.hidden).length} of ${lines.length} lines have it`
      : "";
  }

  function add(event) {
    const text = event.line.endsWith("\n") ? event.line : `${event.line}\n`;
    // RFC 3339 with nanoseconds: milliseconds are enough to read
    const time = (event.time || "").replace(/(\.\d{3})\d*/, "$1");
    const line = { time, text, node: h("span", { class: "line" }, h("span", { class: "ts" }, time, " "), h("span", { class: "text" })) };
    mark(line);
    lines.push(line);
    if (lines.length > KEEP_LINES) lines.shift().node.remove();
    if (paused) {
      held.push(line);
      state.textContent = `paused: ${held.length} new lines held`;
    } else {
      out.append(line.node);
      out.scrollTop = out.scrollHeight;
    }
    if (find.value) count();
  }

  // the stream again from the lines asked first: a new tail starts over
  function follow() {
    following?.abort();
    const mine = new AbortController();
    following = mine;
    signal.addEventListener("abort", () => mine.abort(), { once: true });
    lines.length = 0;
    held = [];
    out.replaceChildren();
    count();
    state.textContent = paused ? "paused: new lines are held" : "following";
    stream("GET", `/containers/${id}/logs`, (event) => {
      if (typeof event.line === "string") add(event); // a line of stdout or stderr
    }, { query: { follow: "true", tail: tail.value || undefined, timestamps: "true" }, signal: mine.signal })
      .then(() => { if (following === mine) state.textContent = "the log stream ended: the container stopped"; })
      .catch((error) => { if (error.name !== "AbortError") state.textContent = error.message; });
  }

  const panel = h("section", {}, h("h3", {}, "Logs"),
    h("div", { class: "row" }, pause, download, tail,
      h("label", {}, stamps, " timestamps"), h("label", {}, wrap, " wrap lines"), find, found),
    state, out);
  if (!can("operate")) {
    clear(state, "The logs need the `operate` scope, which this token does not have.");
    for (const control of [pause, download, tail, stamps, wrap, find]) control.disabled = true;
    return panel;
  }
  follow();
  return panel;
}

function execPanel(id) {
  const cmd = h("input", { id: "exec-cmd", placeholder: "ls -l /", size: 40 });
  const result = h("div", { id: "exec-result" });
  async function run() {
    let argv;
    try {
      argv = words(cmd.value.trim());
      if (!argv.length) throw new Error("type a command");
      const answer = await call("POST", `/containers/${id}/exec`, { body: { cmd: argv, timeout: 30 } });
      clear(
        result,
        h("p", {}, "exit code ", h("strong", { id: "exec-exit", class: answer.exit_code ? "bad" : "ok" }, answer.exit_code),
          answer.truncated ? " (output cut)" : ""),
        h("h4", {}, "stdout"), h("pre", { id: "exec-stdout" }, answer.stdout),
        h("h4", {}, "stderr"), h("pre", { id: "exec-stderr" }, answer.stderr),
      );
    } catch (error) {
      clear(result, h("p", { class: "message error" }, error.message));
    }
  }
  cmd.addEventListener("keydown", (event) => { if (event.key === "Enter") run(); });
  return h("section", {}, h("h3", {}, "Exec one command"),
    h("div", { class: "row" }, h("label", { for: "exec-cmd" }, "Command"), cmd, action("Run", "exec", run, { id: "exec-run" })),
    result);
}

function statsPanel(id, signal) {
  const chart = statsChart("CPU and memory of the container, in percent");
  const text = h("p", { id: "stats-text", class: "legend" },
    h("span", { class: "cpu" }, "CPU"), " and ", h("span", { class: "mem" }, "memory"), " (percent)");
  let running = null;
  const toggle = action("Watch stats", "operate", () => {
    if (running) {
      running.abort();
      return;
    }
    running = new AbortController();
    signal.addEventListener("abort", () => running?.abort(), { once: true });
    toggle.textContent = "Stop watching";
    stream("GET", `/containers/${id}/stats`, (event) => {
      if (event.cpu_percent === undefined) return;
      chart.add(event);
      clear(text, h("span", { class: "cpu" }, `CPU ${(event.cpu_percent || 0).toFixed(1)}%`), " · ",
        h("span", { class: "mem" }, `memory ${bytes(event.memory_usage)} of ${bytes(event.memory_limit)} (${(event.memory_percent || 0).toFixed(1)}%)`),
        ` · ${event.pids ?? "?"} processes`);
    }, { query: { stream: "true" }, signal: running.signal })
      .catch((error) => { if (error.name !== "AbortError") text.textContent = error.message; })
      .finally(() => { running = null; toggle.textContent = "Watch stats"; });
  }, { id: "stats-toggle" });
  return h("section", {}, h("h3", {}, "Live stats"), h("div", { class: "row" }, toggle), text, chart.node);
}

function inspectPanel(id) {
  const out = h("pre", { class: "light" });
  const box = h("details", {}, h("summary", {}, "Inspect"), out);
  box.addEventListener("toggle", async () => {
    if (!box.open) return;
    try {
      out.textContent = JSON.stringify(await call("GET", `/containers/${id}`), null, 2);
    } catch (error) {
      out.textContent = error.message;
    }
  });
  return box;
}
