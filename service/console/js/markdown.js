// A small Markdown renderer for the course's bodies, building DOM nodes: the text is never
// parsed as HTML. Paragraphs, `##` headings, lists, fenced code, `code`, **bold**, *italic*
// and links (http, https, or a path of this service).

import { append, h } from "./dom.js";

export function markdown(text) {
  const out = document.createDocumentFragment();
  const lines = String(text || "").replace(/\r\n/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = line.match(/^\s*(```|~~~)\s*([\w-]*)/);
    if (fence) {
      const code = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) code.push(lines[i++]);
      i += 1;
      out.append(h("pre", { class: "light", dataset: { lang: fence[2] || "text" } }, h("code", {}, code.join("\n"))));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      // the concept's title is the page's h2: its sections start at h3
      const level = Math.min(6, heading[1].length + 1);
      out.append(h(`h${level}`, {}, inline(heading[2])));
      i += 1;
      continue;
    }
    const bullet = /^\s*[-*+]\s+/;
    const number = /^\s*\d+[.)]\s+/;
    if (bullet.test(line) || number.test(line)) {
      const ordered = number.test(line);
      const marker = ordered ? number : bullet;
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length && (marker.test(lines[i]) || (/^\s{2,}\S/.test(lines[i]) && list.lastChild))) {
        if (marker.test(lines[i]) && !/^\s{2,}/.test(lines[i])) {
          list.append(h("li", {}, inline(lines[i].replace(marker, ""))));
        } else {
          // a continuation, or a nested item: part of the item above
          append(list.lastChild, [" ", inline(lines[i].trim().replace(/^[-*+]\s+/, "• "))]);
        }
        i += 1;
      }
      out.append(list);
      continue;
    }
    const paragraph = [];
    while (i < lines.length && lines[i].trim() && !/^(#{1,6}\s|\s*(```|~~~)|\s*[-*+]\s|\s*\d+[.)]\s)/.test(lines[i])) {
      paragraph.push(lines[i].trim());
      i += 1;
    }
    out.append(h("p", {}, inline(paragraph.join(" "))));
  }
  return out;
}

const INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)\s]+)\)/;

export function inline(text) {
  const nodes = [];
  let rest = String(text);
  while (rest) {
    const found = rest.match(INLINE);
    if (!found) {
      nodes.push(rest);
      break;
    }
    if (found.index) nodes.push(rest.slice(0, found.index));
    if (found[1]) nodes.push(h("code", {}, found[2].trim()));
    else if (found[3] || found[4]) nodes.push(h("strong", {}, inline(found[3] || found[4])));
    else if (found[5]) nodes.push(h("em", {}, inline(found[5])));
    else if (found[6]) nodes.push(link(found[6], found[7]));
    rest = rest.slice(found.index + found[0].length);
  }
  return nodes;
}

function link(text, href) {
  if (/^https?:\/\//i.test(href)) {
    return h("a", { href, rel: "noopener noreferrer external", target: "_blank" }, inline(text));
  }
  if (/^\/(?!\/)/.test(href)) return h("a", { href }, inline(text));
  return h("span", {}, inline(text)); // any other scheme (javascript:, data:) is only text
}
