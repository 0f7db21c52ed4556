// Registry: one search box, the repositories and tags of a private registry, pull from there.

import { call, can } from "./api.js";
import { action, clear, h, say, table } from "./dom.js";
import { pull } from "./images.js";

export async function renderRegistry(main, { signal }) {
  const message = h("p", { class: "message", role: "status", hidden: true });
  const term = h("input", { id: "search-term", type: "search", placeholder: "busybox, or 127.0.0.1:5000/team", size: 36 });
  const results = h("div", { id: "search-results" });
  // the registries the service is configured to browse (REGISTRIES), by name
  const known = await call("GET", "/registry/registries", { signal });
  const registry = h("select", { id: "registry-host", disabled: known.length === 0 },
    known.map((r) => h("option", { value: r.host }, r.host)));
  const repository = h("input", { id: "registry-repository", placeholder: "team/app", size: 28 });
  const tags = h("div", { id: "registry-tags" });
  const pullOut = h("div", { id: "registry-pull" });

  function pullButton(reference) {
    return action("Pull", "write", () => pull(reference, pullOut), { dataset: { reference } });
  }

  async function search(event) {
    event?.preventDefault();
    if (!term.value.trim()) return;
    say(message, "");
    try {
      const found = await call("GET", "/registry/search", { query: { term: term.value.trim(), limit: 25 } });
      const rows = found.map((r) =>
        h("tr", {}, h("td", { class: "mono" }, r.name), h("td", {}, r.description ?? ""),
          h("td", {}, r.star_count ?? ""), h("td", {}, r.is_official ? "yes" : ""),
          h("td", {}, pullButton(r.name))));
      clear(results, rows.length ? table(["Name", "Description", "Stars", "Official", ""], rows) : h("p", { class: "muted" }, "Nothing found."));
    } catch (error) {
      say(message, error.message, "error");
    }
  }

  async function browse() {
    say(message, "");
    const host = registry.value;
    const name = repository.value.trim();
    if (!host) return say(message, "the service is configured for no private registry", "error");
    try {
      let rows;
      if (name) {
        const found = await call("GET", "/registry/tags", { query: { registry: host, repository: name, digests: "true" } });
        rows = found.tags.map((t) => {
          const reference = t.reference || `${host}/${name}:${t.name}`;
          return h("tr", {}, h("td", { class: "mono" }, reference), h("td", { class: "mono" }, t.digest || ""), h("td", {}, pullButton(reference)));
        });
        clear(tags, table(["Tag", "Digest", ""], rows, `Tags of ${host}/${name}`));
      } else {
        const found = await call("GET", "/registry/catalog", { query: { registry: host, limit: 50 } });
        rows = found.repositories.map((r) =>
          h("tr", {}, h("td", { class: "mono" }, r.name),
            h("td", {}, (r.tags || []).map((t) => h("div", {}, pullButton(`${r.reference || `${host}/${r.name}`}:${t}`), " ", t)))));
        clear(tags, table(["Repository", "Tags"], rows, `Repositories of ${host}`));
      }
    } catch (error) {
      say(message, error.message, "error");
    }
  }

  const form = h("form", { class: "row", role: "search" },
    h("label", { for: "search-term" }, "Search"), term, h("button", { type: "submit", id: "search-run" }, "Search"));
  form.addEventListener("submit", search);
  clear(main,
    h("h2", {}, "Registry"),
    h("section", { class: "panel" }, h("h3", {}, "Search"), form, results),
    h("section", { class: "panel" }, h("h3", {}, "A private registry"),
      h("p", { class: "muted" }, known.length
        ? "The registries the service is configured for (DOCKYARD_REGISTRIES). Leave the repository empty to list them all."
        : "The service is configured for no private registry (DOCKYARD_REGISTRIES)."),
      h("div", { class: "row" },
        h("label", { for: "registry-host" }, "Registry"), registry,
        h("label", { for: "registry-repository" }, "Repository"), repository,
        action("Show tags", "read", browse, { id: "registry-browse" })),
      tags, pullOut),
    message);
}
