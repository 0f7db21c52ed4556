// Volumes (create, remove, backup download, restore upload with progress) and networks
// (create, remove, connect and disconnect containers).

import { call, fetchRaw, newest, seg, upload } from "./api.js";
import {
  action, bytes, clear, confirmAction, field, h, labels, ordered, pairs, saveFile, say, sortedTable, table, toggleSort,
  when,
} from "./dom.js";

// the engine's own networks: they cannot be removed, so no Remove is offered
const BUILT_IN_NETWORKS = new Set(["bridge", "host", "none", "ingress", "docker_gwbridge"]);

export async function renderVolumes(main, { signal }) {
  const message = h("p", { class: "message", role: "status", hidden: true });
  const list = h("div", { id: "volume-list" });
  const search = h("input", { id: "volume-search", type: "search", placeholder: "part of a name", size: 18 });
  // the engine measures every volume's files for their sizes: asked for, not by default
  const sizes = h("input", { id: "volume-sizes", type: "checkbox" });
  const sort = { by: "Name", descending: false };
  let volumes = [];

  const latest = newest();
  async function refresh() {
    try {
      volumes = await latest(call("GET", "/volumes", { signal, query: { size: sizes.checked || null } }));
      draw();
    } catch (error) {
      if (error.name !== "AbortError") say(message, error.message, "error");
    }
  }

  // the volumes whose name has the search in it, in the order asked
  function draw() {
    const term = search.value.trim().toLowerCase();
    const shown = volumes.filter((v) => v.name.toLowerCase().includes(term));
    clear(list, shown.length ? volumeTable(shown) : h("p", { class: "muted" }, volumes.length ? "No volume's name has that in it." : "No volume."));
  }

  async function backup(volume) {
    say(message, `backing up ${volume.name}…`);
    try {
      const answer = await fetchRaw("GET", `/volumes/${seg(volume.name)}/backup`);
      const blob = await answer.blob();
      saveFile(`${volume.name}.tar.gz`, blob);
      say(message, `backup of ${volume.name}: ${bytes(blob.size)} saved`, "ok");
    } catch (error) {
      say(message, error.message, "error");
    }
  }

  async function remove(volume) {
    if (!(await confirmAction(`Remove the volume ${volume.name} and all its files?`, "", "Remove"))) return;
    try {
      await call("DELETE", `/volumes/${seg(volume.name)}`);
      say(message, `removed ${volume.name}`, "ok");
    } catch (error) {
      say(message, error.message, "error");
    }
    await refresh();
  }

  function volumeTable(shown) {
    const columns = [
      { title: "Name", key: (v) => v.name },
      { title: "Driver", key: (v) => v.driver },
      { title: "Created", key: (v) => v.created },
      { title: "Size", key: (v) => v.size ?? -1 },
      { title: "In use by", key: (v) => v.in_use_by.length },
      { title: "Labels" },
      { title: "Actions" },
    ];
    const row = (v) =>
      h("tr", { dataset: { name: v.name } },
        h("td", { class: "mono name" }, v.name),
        h("td", {}, v.driver),
        h("td", {}, when(v.created)),
        h("td", { class: "size" }, v.size === null ? "—" : bytes(v.size)),
        h("td", {}, v.in_use_by.length
          ? v.in_use_by.map((c) => h("div", {}, h("a", { href: `#containers/${encodeURIComponent(c.name)}` }, c.name), ` (${c.state})`))
          : h("span", { class: "muted" }, "—")),
        h("td", {}, labels(v.labels)),
        h("td", { class: "actions" }, h("div", { class: "buttons" },
          action("Back up", "exec", () => backup(v)),
          action("Remove", "write", () => remove(v), { class: "danger" }))),
      );
    return sortedTable(columns, ordered(shown, columns, sort), sort, (title) => {
      toggleSort(sort, title);
      draw();
    }, row);
  }

  const name = h("input", { id: "volume-name", placeholder: "web-data" });
  const volumeLabels = h("input", { id: "volume-labels", placeholder: "key=value, …" });
  const create = action("Create", "write", async () => {
    try {
      const body = { name: name.value.trim() };
      if (volumeLabels.value.trim()) body.labels = pairs(volumeLabels.value);
      const made = await call("POST", "/volumes", { body });
      say(message, `created ${made.name}`, "ok");
      await refresh();
    } catch (error) {
      say(message, error.message, "error");
    }
  }, { id: "volume-create", class: "primary" });

  const target = h("input", { id: "restore-volume", placeholder: "volume name (made when missing)" });
  const file = h("input", { id: "restore-file", type: "file", accept: ".tar,.tar.gz,.tgz,application/gzip,application/x-tar" });
  const restoreLabels = h("input", { id: "restore-labels", placeholder: "key=value, … (for a volume made here)" });
  const mode = h("select", { id: "restore-mode" }, h("option", { value: "merge" }, "merge"), h("option", { value: "replace" }, "replace"));
  const bar = h("progress", { id: "restore-bar", max: 1, value: 0, "aria-label": "upload progress" });
  const restoreState = h("p", { id: "restore-state", role: "status" });
  const restore = action("Restore", "exec", async () => {
    const chosen = file.files[0];
    if (!chosen || !target.value.trim()) {
      restoreState.textContent = "choose a volume name and an archive";
      return;
    }
    const ask = mode.value === "replace" ? "Replace every file of" : "Write the archive's files into";
    if (!(await confirmAction(`${ask} the volume ${target.value.trim()}?`, chosen.name, "Restore"))) return;
    const gzip = /\.(tgz|gz)$/.test(chosen.name);
    try {
      const answer = await upload("POST", `/volumes/${seg(target.value.trim())}/restore`, chosen, {
        query: {
          mode: mode.value,
          label: restoreLabels.value.split(",").map((l) => l.trim()).filter(Boolean),
        },
        type: gzip ? "application/gzip" : "application/x-tar",
        onProgress: (sent, total) => { bar.value = total ? sent / total : 0; },
      });
      bar.value = 1;
      restoreState.textContent = `restored ${answer.entries} entries (${bytes(answer.bytes)}) into ${answer.volume.name}`;
      await refresh();
    } catch (error) {
      restoreState.textContent = error.message;
    }
  }, { id: "restore-run", class: "primary" });

  clear(main,
    h("h2", {}, "Volumes"),
    h("section", { class: "panel" }, h("h3", {}, "Create a volume"),
      h("div", { class: "grid" }, field("Name", name), field("Labels", volumeLabels)), h("div", { class: "row" }, create)),
    h("section", { class: "panel" }, h("h3", {}, "Restore a backup"),
      h("div", { class: "grid" }, field("Volume", target), field("Archive (.tar.gz or .tar)", file), field("Mode", mode),
        field("Labels", restoreLabels)),
      h("div", { class: "row" }, restore), bar, restoreState),
    h("div", { class: "row controls" }, h("label", { for: "volume-search" }, "Search"), search,
      h("label", {}, sizes, " sizes (the engine measures them)"),
      h("button", { type: "button", onclick: refresh }, "Refresh")),
    message, list);
  search.addEventListener("input", draw);
  sizes.addEventListener("change", refresh);
  await refresh();
}

export async function renderNetworks(main, { signal, param }) {
  const message = h("p", { class: "message", role: "status", hidden: true });
  const list = h("div", { id: "network-list" });
  const detail = h("div", { id: "network-detail" });
  let opened = null; // the name of the network shown under the list

  const latest = newest();
  async function refresh() {
    try {
      const networks = await latest(call("GET", "/networks", { signal }));
      clear(list, networkTable(networks));
      mark();
    } catch (error) {
      if (error.name !== "AbortError") say(message, error.message, "error");
    }
  }

  function mark() {
    for (const row of list.querySelectorAll("tr[data-name]")) row.classList.toggle("selected", row.dataset.name === opened);
  }

  // #networks/<name>: the network's containers under the list, to connect and disconnect
  async function show(name) {
    opened = name;
    mark();
    if (!name) {
      clear(detail);
      return;
    }
    try {
      const found = await call("GET", `/networks/${seg(name)}`, { signal });
      if (opened !== name) return; // another one was asked meanwhile
      const container = h("input", { id: "connect-container", placeholder: "container name or id" });
      const aliases = h("input", { id: "connect-aliases", placeholder: "alias, …" });
      const connect = action("Connect", "write", async () => {
        try {
          const body = { container: container.value.trim() };
          const names = aliases.value.split(",").map((a) => a.trim()).filter(Boolean);
          if (names.length) body.aliases = names;
          await call("POST", `/networks/${seg(found.id)}/connect`, { body });
          say(message, `connected ${body.container} to ${found.name}`, "ok");
          await show(name);
        } catch (error) {
          say(message, error.message, "error");
        }
      }, { id: "connect-run" });
      const rows = found.containers.map((c) =>
        h("tr", {}, h("td", {}, h("a", { href: `#containers/${encodeURIComponent(c.name)}` }, c.name)),
          h("td", { class: "mono" }, c.ipv4_address || ""), h("td", { class: "mono" }, c.ipv6_address || ""),
          h("td", {}, action("Disconnect", "write", async () => {
            if (!(await confirmAction(`Disconnect ${c.name} from ${found.name}?`, "", "Disconnect"))) return;
            try {
              await call("POST", `/networks/${seg(found.id)}/disconnect`, { body: { container: c.id } });
              say(message, `disconnected ${c.name}`, "ok");
              await show(name);
            } catch (error) {
              say(message, error.message, "error");
            }
          }))));
      clear(detail, h("section", { class: "panel" },
        h("div", { class: "row spread" }, h("h3", {}, `Network ${found.name}`), h("a", { href: "#networks" }, "Close")),
        h("p", {}, (found.subnets || []).map((s) => `${s.subnet}${s.gateway ? ` via ${s.gateway}` : ""}`).join(", ") || "no subnet"),
        rows.length ? table(["Container", "IPv4", "IPv6", ""], rows) : h("p", { class: "muted" }, "No container connected."),
        h("div", { class: "row" }, field("Container", container), field("Aliases", aliases), connect)));
      detail.scrollIntoView({ block: "nearest" });
    } catch (error) {
      if (error.name !== "AbortError") say(message, error.message, "error");
    }
  }

  async function remove(network) {
    if (!(await confirmAction(`Remove the network ${network.name}?`, "", "Remove"))) return;
    try {
      await call("DELETE", `/networks/${seg(network.id)}`);
      say(message, `removed ${network.name}`, "ok");
      if (opened === network.name) location.hash = "#networks";
    } catch (error) {
      say(message, error.message, "error");
    }
    await refresh();
  }

  // the engine's own networks (and the swarm's routing mesh) stay: no Remove
  function removable(network) {
    return !BUILT_IN_NETWORKS.has(network.name) && !network.ingress;
  }

  function networkTable(networks) {
    const rows = networks.map((n) =>
      h("tr", { dataset: { name: n.name } },
        h("td", { class: "name" }, h("a", { href: `#networks/${encodeURIComponent(n.name)}` }, n.name)),
        h("td", {}, n.driver), h("td", {}, n.scope),
        h("td", { class: "mono" }, (n.subnets || []).map((s) => h("div", {}, s.subnet))),
        h("td", {}, n.internal ? "yes" : "no"), h("td", {}, labels(n.labels)),
        h("td", { class: "actions" }, removable(n)
          ? action("Remove", "write", () => remove(n), { class: "danger" })
          : h("span", { class: "muted" }, "built-in"))),
    );
    return table(["Name", "Driver", "Scope", "Subnets", "Internal", "Labels", "Actions"], rows);
  }

  const name = h("input", { id: "network-name", placeholder: "backend" });
  const subnet = h("input", { id: "network-subnet", placeholder: "10.201.0.0/24 (optional)" });
  const internal = h("input", { id: "network-internal", type: "checkbox" });
  const networkLabels = h("input", { id: "network-labels", placeholder: "key=value, …" });
  const create = action("Create", "write", async () => {
    try {
      const body = { name: name.value.trim(), internal: internal.checked };
      if (subnet.value.trim()) body.subnet = subnet.value.trim();
      if (networkLabels.value.trim()) body.labels = pairs(networkLabels.value);
      const made = await call("POST", "/networks", { body });
      say(message, `created ${made.name}`, "ok");
      await refresh();
    } catch (error) {
      say(message, error.message, "error");
    }
  }, { id: "network-create", class: "primary" });

  clear(main,
    h("h2", {}, "Networks"),
    h("section", { class: "panel" }, h("h3", {}, "Create a network"),
      h("div", { class: "grid" }, field("Name", name), field("Subnet", subnet), field("Labels", networkLabels)),
      h("div", { class: "row" }, h("label", {}, internal, " internal (no way out)"), create)),
    h("div", { class: "row" }, h("button", { type: "button", onclick: refresh }, "Refresh")),
    message, list, detail);
  await refresh();
  await show(param);
  return { show };
}
