// Images: the list, pull with a progress bar fed by the stream, build from a Dockerfile typed
// here with its log streaming, tag, push, remove.

import { call, newest, seg, stream } from "./api.js";
import { action, bytes, clear, confirmAction, field, h, labels, pairs, reference, say, table, when } from "./dom.js";

// the registry a reference names, as the engine reads it: its first component when that has a
// `.` or a `:` or is `localhost`; null for a bare one (`busybox`, `team/app`: Docker Hub's)
export function registryOf(ref) {
  const slash = ref.indexOf("/");
  if (slash < 0) return null;
  const first = ref.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" ? first : null;
}

// the service's own image: the empty one its volume helpers are made from
function isOwn(image) {
  return "dockyard.helper" in image.labels || image.tags.some((t) => t.startsWith("dockyard/volume-helper:"));
}

// a pull (or push) shown as a bar: layers' bytes summed, full when the result comes
export function progressBox(id) {
  const bar = h("progress", { id: `${id}-bar`, max: 1, value: 0, "aria-label": "progress" });
  const text = h("p", { id: `${id}-text`, class: "muted", role: "status" });
  const layers = new Map();
  return {
    node: h("div", { id, class: "progress" }, bar, text),
    event(event) {
      if (event.type === "progress") {
        const layer = layers.get(event.id) || { current: 0, total: 0, done: false };
        if (event.total) {
          layer.total = event.total;
          layer.current = event.current || 0;
        }
        if (/complete|exists|Pushed|Mounted/i.test(event.status || "")) layer.done = true;
        if (event.id) layers.set(event.id, layer);
        const total = [...layers.values()].reduce((sum, l) => sum + (l.total || 0), 0);
        const current = [...layers.values()].reduce((sum, l) => sum + (l.done ? l.total : l.current), 0);
        if (total) bar.value = Math.min(0.99, current / total);
        text.textContent = `${event.id ? `${event.id}: ` : ""}${event.status || ""}`;
      }
    },
    done(message) {
      bar.value = 1;
      bar.dataset.done = "true";
      text.textContent = message;
    },
    failed(message) {
      bar.dataset.done = "failed";
      text.textContent = message;
      text.className = "bad";
    },
  };
}

// pull `image` and show its progress in `where`; resolves with the image
export async function pull(image, where, onDone) {
  const box = progressBox("pull-progress");
  clear(where, box.node);
  try {
    const last = await stream("POST", "/images/pull", (event) => box.event(event), { body: { image } });
    const result = last && last.result;
    box.done(`Pulled ${image}: ${result ? result.short_id : ""}`);
    if (onDone) await onDone(result);
    return result;
  } catch (error) {
    box.failed(error.message);
    return null;
  }
}

export async function render(main, { signal }) {
  const message = h("p", { class: "message", role: "status", hidden: true });
  const list = h("div", { id: "image-list" });
  const untagged = h("input", { type: "checkbox", id: "image-untagged" });
  untagged.addEventListener("change", () => refresh());

  const latest = newest();
  async function refresh() {
    try {
      const query = { dangling: untagged.checked ? undefined : "false" };
      const images = await latest(call("GET", "/images", { query, signal }));
      clear(list, imageTable(images));
    } catch (error) {
      if (error.name !== "AbortError") say(message, error.message, "error");
    }
  }

  // tag: a row's Tag button fills the form, which names the new reference
  const tagSource = h("input", { id: "tag-source", placeholder: "image id or reference", size: 30 });
  const tagRepository = h("input", { id: "tag-repository", placeholder: "127.0.0.1:5000/team/app", size: 30 });
  const tagName = h("input", { id: "tag-name", value: "latest", size: 12 });
  const tagForm = h("details", { class: "panel", id: "tag-form" }, h("summary", {}, "Tag"),
    h("div", { class: "grid" }, field("Image", tagSource), field("Repository", tagRepository), field("Tag", tagName)),
    h("div", { class: "row" }, action("Tag", "write", async () => {
      const source = tagSource.value.trim();
      const repository = tagRepository.value.trim();
      const version = tagName.value.trim() || "latest";
      if (!source || !repository) return say(message, "name the image and the new repository", "error");
      try {
        // a second tag of the same name finds it made
        await call("POST", `/images/${seg(source)}/tag`, { body: { repository, tag: version }, repeat: true });
        say(message, `tagged ${repository}:${version}`, "ok");
      } catch (error) {
        say(message, error.message, "error");
      }
      await refresh();
    }, { id: "tag-run", class: "primary" })));

  const pushOut = h("div", { id: "push-out" });

  function tag(image) {
    tagSource.value = image.tags[0] || image.id;
    tagForm.open = true;
    tagRepository.focus();
  }

  async function push(ref) {
    const registry = registryOf(ref);
    if (!(await confirmAction(`Push ${ref} to ${registry}?`, "", "Push"))) return;
    const box = progressBox("push-progress");
    clear(pushOut, box.node);
    try {
      const last = await stream("POST", `/images/${seg(ref)}/push`, (event) => box.event(event));
      box.done(`Pushed ${ref}: ${last?.result?.digest || ""}`);
    } catch (error) {
      box.failed(error.message);
    }
  }

  async function remove(image) {
    const name = image.tags[0] || image.short_id;
    if (!(await confirmAction(`Remove the image ${name}?`, image.tags.join("\n"), "Remove"))) return;
    try {
      await call("DELETE", `/images/${seg(image.id)}`, { query: { force: "true" } });
      say(message, `removed ${name}`, "ok");
    } catch (error) {
      say(message, error.message, "error");
    }
    await refresh();
  }

  // a tag, with a Push when it names its registry: a bare tag would go to Docker Hub
  function tagLine(image, ref) {
    const pushable = registryOf(ref) && !isOwn(image);
    return h("div", { class: "tag-line" }, h("span", { class: "mono" }, reference(ref)),
      pushable ? action("Push", "write", () => push(ref), { dataset: { push: ref }, "aria-label": `Push ${ref}`, class: "small" }) : null);
  }

  function imageTable(images) {
    if (!images.length) return h("p", { class: "muted" }, "No image.");
    const rows = images.map((image) =>
      h(
        "tr",
        { dataset: { id: image.id } },
        h("td", { class: "tags" }, image.tags.length ? image.tags.map((t) => tagLine(image, t)) : h("span", { class: "muted" }, "untagged")),
        h("td", { class: "mono" }, image.short_id),
        h("td", { class: "nowrap" }, bytes(image.size)),
        h("td", {}, when(image.created)),
        h("td", {}, labels(image.labels)),
        h(
          "td",
          { class: "actions" },
          h("div", { class: "buttons" },
            action("Tag", "write", () => tag(image)),
            isOwn(image) ? h("span", { class: "muted" }, "Dockyard's own") : action("Remove", "write", () => remove(image), { class: "danger" })),
        ),
      ),
    );
    return table(["Tags", "Id", "Size", "Created", "Labels", "Actions"], rows);
  }

  // pull
  const pullInput = h("input", { id: "pull-image", placeholder: "busybox:latest or 127.0.0.1:5000/team/app:1.0", size: 46 });
  const pullOut = h("div", { id: "pull-out" });
  const pullButton = action("Pull", "write", async () => {
    const image = pullInput.value.trim();
    if (image) await pull(image, pullOut, refresh);
  }, { id: "pull-run", class: "primary" });

  // build
  const dockerfile = h("textarea", { id: "build-dockerfile", rows: 6 }, 'FROM busybox\nRUN echo built > /built.txt\nCMD ["cat", "/built.txt"]\n');
  const buildTag = h("input", { id: "build-tag", placeholder: "demo/app:1" });
  const buildLabels = h("input", { id: "build-labels", placeholder: "key=value, …" });
  const buildLog = h("pre", { id: "build-log", class: "log", role: "log", hidden: true });
  const buildState = h("p", { id: "build-state", role: "status" });
  const buildButton = action("Build", "write", async () => {
    const body = { dockerfile: dockerfile.value };
    if (buildTag.value.trim()) body.tag = buildTag.value.trim();
    const labelText = buildLabels.value.trim();
    try {
      if (labelText) body.labels = pairs(labelText);
    } catch (error) {
      buildState.textContent = error.message;
      return;
    }
    buildLog.hidden = false;
    buildLog.textContent = "";
    buildState.textContent = "building…";
    try {
      const last = await stream("POST", "/images/build", (event) => {
        if (typeof event.line === "string") {
          buildLog.append(event.line.endsWith("\n") ? event.line : `${event.line}\n`);
          buildLog.scrollTop = buildLog.scrollHeight;
        }
      }, { body });
      buildState.textContent = `Built ${last?.result?.short_id || last?.result?.id || ""}`;
      buildState.className = "ok";
      await refresh();
    } catch (error) {
      buildState.textContent = error.message;
      buildState.className = "bad";
    }
  }, { id: "build-run", class: "primary" });

  clear(
    main,
    h("h2", {}, "Images"),
    h("section", { class: "panel" }, h("h3", {}, "Pull"),
      h("div", { class: "row" }, h("label", { for: "pull-image" }, "Image"), pullInput, pullButton), pullOut),
    h("details", { class: "panel" }, h("summary", {}, "Build from a Dockerfile"),
      field("Dockerfile", dockerfile),
      h("div", { class: "grid" }, field("Tag", buildTag), field("Labels", buildLabels)),
      h("div", { class: "row" }, buildButton), buildState, buildLog),
    tagForm,
    pushOut,
    h("div", { class: "row" }, h("label", {}, untagged, " untagged ones too"),
      h("button", { type: "button", onclick: refresh }, "Refresh")),
    message,
    list,
  );
  await refresh();
}
