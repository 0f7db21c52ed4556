// Containers: the table, lifecycle actions, the new-container form with the policy's
// decision first, and one container's live logs, exec, stats and inspect.

import { call, can, seg, stream } from "./api.js";
import { statsChart } from "./chart.js";
import {
  action, bytes, clear, confirmAction, field, h, labels, pairs, saveFile, say, table, when, words,
} from "./dom.js";

export async function renderContainers(main, { signal }) {
  const message = h("p", { class: "message", role: "status", hidden: true });
  const filter = h("input", { id: "container-filter", placeholder: "key=value", size: 28 });
  const all = h("input", { type: "checkbox", id: "container-all", checked: true });
  const list = h("div", { id: "container-list" });
  const detail = h("section", { id: "container-detail", "aria-live": "polite" });
  let selected = null;
  let detailAbort = null;

  async function refresh() {
    const query = { all: all.checked ? "true" : "false", label: filter.value.trim() || undefined };
    try {
      const containers = await call("GET", "/containers", { query, signal });
      clear(list, containerTable(containers));
    } catch (error) {
      if (error.name !== "AbortError") say(message, error.message, "error");
    }
  }

  async function lifecycle(container, verb) {
    const ask = { stop: "Stop", restart: "Restart", kill: "Kill" }[verb];
    if (ask && !(await confirmAction(`${ask} the container ${container.name}?`))) return;
    try {
      await call("POST", `/containers/${seg(container.id)}/${verb}`, {
        query: verb === "stop" || verb === "restart" ? { timeout: 5 } : {},
      });
      say(message, `${verb}: ${container.name} done`, "ok");
    } catch (error) {
      say(message, error.message, "error");
    }
    await refresh();
  }

  async function remove(container) {
    const ok = await confirmAction(
      `Remove the container ${container.name}?`,
      container.state === "running" ? "It is running: it will be killed first (force)." : "",
      "Remove",
    );
    if (!ok) return;
    try {
      await call("DELETE", `/containers/${seg(container.id)}`, { query: { force: "true" } });
      say(message, `removed ${container.name}`, "ok");
      if (selected === container.id) {
        detailAbort?.abort();
        clear(detail);
        selected = null;
      }
    } catch (error) {
      say(message, error.message, "error");
    }
    await refresh();
  }

  function containerTable(containers) {
    if (!containers.length) return h("p", { class: "muted" }, "No container matches.");
    const rows = containers.map((c) => {
      const running = c.state === "running";
      return h(
        "tr",
        { class: c.id === selected ? "selected" : "", dataset: { id: c.id, name: c.name } },
        h("td", {}, h("button", { type: "button", class: "link", onclick: () => select(c) }, c.name)),
        h("td", { class: "mono" }, c.image),
        h("td", { class: `state state-${c.state}` }, c.state, h("br"), h("span", { class: "muted" }, c.status)),
        h("td", {}, ports(c.ports)),
        h("td", {}, when(c.created)),
        h("td", {}, labels(c.labels)),
        h(
          "td",
          { class: "actions" },
          c.state === "paused"
            ? action("Unpause", "operate", () => lifecycle(c, "unpause"))
            : running
              ? action("Stop", "operate", () => lifecycle(c, "stop"))
              : action("Start", "operate", () => lifecycle(c, "start")),
          running ? action("Pause", "operate", () => lifecycle(c, "pause")) : null,
          action("Restart", "operate", () => lifecycle(c, "restart")),
          action("Remove", "write", () => remove(c), { class: "danger" }),
        ),
      );
    });
    return table(["Name", "Image", "State", "Ports", "Created", "Labels", "Actions"], rows);
  }

  function select(container) {
    selected = container.id;
    for (const row of list.querySelectorAll("tr[data-id]")) {
      row.classList.toggle("selected", row.dataset.id === selected);
    }
    detailAbort?.abort();
    detailAbort = new AbortController();
    signal.addEventListener("abort", () => detailAbort.abort(), { once: true });
    clear(detail, containerDetail(container, detailAbort.signal));
  }

  const form = newContainerForm(async (created) => {
    await refresh();
    select(created);
  });
  const refreshButton = h("button", { type: "button", onclick: refresh }, "Refresh");
  clear(
    main,
    h("h2", {}, "Containers"),
    form,
    h(
      "div",
      { class: "row" },
      h("label", { for: "container-filter" }, "Label filter"),
      filter,
      h("label", {}, all, " stopped ones too"),
      refreshButton,
    ),
    message,
    list,
    detail,
  );
  filter.addEventListener("change", refresh);
  all.addEventListener("change", refresh);
  await refresh();
}

function ports(list) {
  return (list || []).map((p) => {
    if (!p.host_port) return h("div", {}, `${p.container_port}/${p.protocol}`);
    let host = !p.host_ip || p.host_ip === "0.0.0.0" || p.host_ip === "::" ? location.hostname : p.host_ip;
    if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
    const href = `http://${host}:${p.host_port}/`;
    return h("div", {}, h("a", { href, rel: "noopener noreferrer", target: "_blank" }, `${host}:${p.host_port}`), ` → ${p.container_port}/${p.protocol}`);
  });
}

function newContainerForm(onCreated) {
  const input = (id, attrs = {}) => h("input", { id, ...attrs });
  const area = (id, placeholder) => h("textarea", { id, rows: 2, placeholder });
  const image = input("nc-image", { required: true, placeholder: "busybox:latest", list: "nc-images" });
  const name = input("nc-name", { placeholder: "made up when empty" });
  const command = input("nc-command", { placeholder: 'sh -c "echo hello; sleep 60"' });
  const env = area("nc-env", "KEY=value, one a line");
  const portsField = area("nc-ports", "8080:80 or 127.0.0.1:8080:80/tcp, one a line");
  const mounts = area("nc-mounts", "volume:name:/data, bind:/srv:/srv:ro, tmpfs:/tmp");
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
      const answer = await call("POST", "/containers/decision", { body: request });
      const text = answer.allowed
        ? `Policy: allowed. ${answer.message}`
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
      await onCreated(created);
    } catch (error) {
      say(decision, error.message, "error");
    }
  }

  const details = h(
    "details",
    { class: "panel", id: "new-container" },
    h("summary", {}, "New container"),
    h(
      "div",
      { class: "grid" },
      field("Image", image),
      field("Name", name),
      field("Command", command),
      field("Network", network),
      field("Environment", env),
      field("Ports (host:container)", portsField),
      field("Mounts", mounts),
      field("Labels", labelsField),
    ),
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

function containerDetail(container, signal) {
  const id = seg(container.id);
  return h(
    "div",
    { class: "panel" },
    h("h3", {}, `Container ${container.name}`, " ", h("span", { class: "muted mono" }, container.short_id)),
    logsPanel(container, id, signal),
    execPanel(id),
    statsPanel(id, signal),
    inspectPanel(id),
  );
}

function logsPanel(container, id, signal) {
  const out = h("pre", { id: "logs", class: "log", role: "log", tabindex: 0, "aria-label": "logs" });
  const state = h("p", { id: "logs-state", class: "muted", role: "status" });
  const lines = [];
  let held = [];
  let paused = false;
  const pause = h("button", { type: "button", id: "logs-pause", "aria-pressed": "false" }, "Pause");
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(paused));
    if (!paused) {
      out.append(held.join(""));
      held = [];
      out.scrollTop = out.scrollHeight;
    }
    state.textContent = paused ? "paused: new lines are held" : "following";
  });
  const download = h("button", { type: "button", id: "logs-download" }, "Download");
  download.addEventListener("click", () => saveFile(`${container.name}.log`, lines.join("")));
  const panel = h("section", {}, h("h4", {}, "Logs"), h("div", { class: "row" }, pause, download), state, out);
  if (!can("operate")) {
    clear(state, "The logs need the `operate` scope, which this token does not have.");
    pause.disabled = download.disabled = true;
    return panel;
  }
  state.textContent = "following";
  stream("GET", `/containers/${id}/logs`, (event) => {
    if (typeof event.line !== "string") return; // a line of stdout or stderr
    const text = event.line.endsWith("\n") ? event.line : `${event.line}\n`;
    lines.push(text);
    if (paused) {
      held.push(text);
      state.textContent = `paused: ${held.length} new lines held`;
    } else {
      out.append(text);
      out.scrollTop = out.scrollHeight;
    }
  }, { query: { follow: "true", tail: 200 }, signal })
    .then(() => { state.textContent = "the log stream ended: the container stopped"; })
    .catch((error) => { if (error.name !== "AbortError") state.textContent = error.message; });
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
        h("h5", {}, "stdout"), h("pre", { id: "exec-stdout" }, answer.stdout),
        h("h5", {}, "stderr"), h("pre", { id: "exec-stderr" }, answer.stderr),
      );
    } catch (error) {
      clear(result, h("p", { class: "message error" }, error.message));
    }
  }
  cmd.addEventListener("keydown", (event) => { if (event.key === "Enter") run(); });
  return h("section", {}, h("h4", {}, "Exec one command"),
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
  return h("section", {}, h("h4", {}, "Live stats"), h("div", { class: "row" }, toggle), text, chart.node);
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
