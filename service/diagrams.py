"""The course's diagrams: boxes and arrows read from `content/diagrams/<name>.yaml`, checked
when the service starts, and drawn as self-contained SVG in each language.

The SVG fetches nothing: no font (the generic `sans-serif` family), no script, no image, no
link. Every text is escaped.
"""

import re
from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

STYLES = {
    # style: (fill, stroke, dashed)
    "host": ("#eceff1", "#546e7a", False),
    "vm": ("#ede7f6", "#5e35b1", False),
    "engine": ("#e3f2fd", "#1565c0", False),
    "client": ("#e8f5e9", "#2e7d32", False),
    "image": ("#fff3e0", "#ef6c00", False),
    "container": ("#e0f7fa", "#00838f", False),
    "registry": ("#fce4ec", "#ad1457", False),
    "layer": ("#fffde7", "#9e9d24", False),
    "note": ("#ffffff", "#757575", True),
}
BOX_KEYS = {"id", "x", "y", "w", "h", "label", "style"}
ARROW_KEYS = {"from", "to", "label"}
DIAGRAM_KEYS = {"width", "height", "title", "boxes", "arrows"}
# words of the accessible description, per language
WORDS = {
    "fr": {"parts": "Éléments", "links": "Liens", "contains": "contient"},
    "en": {"parts": "Parts", "links": "Links", "contains": "contains"},
}
FONT = "sans-serif"
TITLE_SIZE = 18
LABEL_SIZE = 14
LINE_HEIGHT = 18
ARROW_SIZE = 12
INK = "#263238"


class DiagramError(ValueError):
    """A diagram file that breaks a rule of FORMAT.md."""


def check(data, where: str, langs) -> dict:
    """A diagram's YAML, checked: every field there and typed, every label in every language
    of ``langs``, arrows between boxes that exist. Raises DiagramError naming the field."""

    def fail(field, problem):
        raise DiagramError(f"{where}: `{field}` {problem}")

    if not isinstance(data, Mapping):
        fail("(file)", "must be a mapping of width, height, title, boxes, arrows")
    _keys(data, DIAGRAM_KEYS, {"arrows"}, "(file)", fail)
    for field in ("width", "height"):
        if not _positive(data[field]):
            fail(field, "must be a positive number")
    title = _labels(data["title"], "title", langs, fail)
    boxes, seen = [], set()
    if not isinstance(data["boxes"], list) or not data["boxes"]:
        fail("boxes", "must be a non-empty list")
    for index, box in enumerate(data["boxes"]):
        at = f"boxes[{index}]"
        if not isinstance(box, Mapping):
            fail(at, "must be a mapping")
        _keys(box, BOX_KEYS, set(), at, fail)
        if not isinstance(box["id"], str) or not box["id"]:
            fail(f"{at}.id", "must be a non-empty string")
        if box["id"] in seen:
            fail(f"{at}.id", f"repeats the box id `{box['id']}`")
        seen.add(box["id"])
        for field in ("x", "y"):
            if not _number(box[field]):
                fail(f"{at}.{field}", "must be a number")
        for field in ("w", "h"):
            if not _positive(box[field]):
                fail(f"{at}.{field}", "must be a positive number")
        if box["style"] not in STYLES:
            fail(f"{at}.style", f"must be one of {', '.join(STYLES)}, not {box['style']!r}")
        label = _labels(box["label"], f"{at}.label", langs, fail)
        boxes.append({**{key: box[key] for key in ("id", "style")}, **_frame(box), "label": label})
    arrows = []
    for index, arrow in enumerate(data.get("arrows") or []):
        at = f"arrows[{index}]"
        if not isinstance(arrow, Mapping):
            fail(at, "must be a mapping")
        _keys(arrow, ARROW_KEYS, {"label"}, at, fail)
        for end in ("from", "to"):
            if arrow[end] not in seen:
                fail(f"{at}.{end}", f"names no box: {arrow[end]!r} (boxes: {', '.join(seen)})")
        if arrow["from"] == arrow["to"]:
            fail(at, "goes from a box to itself")
        label = arrow.get("label")
        label = None if label is None else _labels(label, f"{at}.label", langs, fail)
        arrows.append({"from": arrow["from"], "to": arrow["to"], "label": label})
    return {
        "width": data["width"],
        "height": data["height"],
        "title": title,
        "boxes": boxes,
        "arrows": arrows,
    }


def _keys(mapping, known, optional, at, fail):
    missing = sorted(known - optional - set(mapping))
    if missing:
        fail(at, f"lacks {', '.join(missing)}")
    unknown = sorted(str(key) for key in set(mapping) - known)
    if unknown:
        fail(at, f"has unknown fields {', '.join(unknown)}")


def _number(value) -> bool:
    # yaml's booleans are ints to python
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive(value) -> bool:
    return _number(value) and value > 0


def _labels(value, field, langs, fail) -> dict:
    if not isinstance(value, Mapping):
        fail(field, f"must map each language ({', '.join(langs)}) to its text")
    missing = [lang for lang in langs if not isinstance(value.get(lang), str) or not value[lang]]
    if missing:
        fail(field, f"lacks its text in {', '.join(missing)}")
    unknown = sorted(str(key) for key in set(value) - set(langs))
    if unknown:
        fail(field, f"has unknown languages {', '.join(unknown)}")
    return {lang: value[lang] for lang in langs}


def _frame(box) -> dict:
    return {key: box[key] for key in ("x", "y", "w", "h")}


def lines(text: str) -> list[str]:
    """A label's lines: a real line break, or a `\\n` left as two characters by single
    quotes or a plain YAML scalar, breaks a line."""
    return [line.strip() for line in text.replace("\\n", "\n").splitlines()] or [""]


def _n(value) -> str:
    """An SVG number: integral values without a fraction."""
    value = round(float(value), 1)
    return str(int(value)) if value.is_integer() else str(value)


def _contains(outer, inner) -> bool:
    return (
        outer is not inner
        and outer["x"] <= inner["x"]
        and outer["y"] <= inner["y"]
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"]
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"]
    )


def _text(x, y, text_lines, size, anchor="middle", **attrs) -> str:
    """Text anchored at ``x`` (centred by default), one tspan a line, the first line's
    baseline at ``y``."""
    extra = "".join(f" {name.replace('_', '-')}={quoteattr(str(v))}" for name, v in attrs.items())
    spans = "".join(
        f'<tspan x="{_n(x)}" y="{_n(y + i * LINE_HEIGHT)}">{escape(line)}</tspan>'
        for i, line in enumerate(text_lines)
    )
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-family="{FONT}" font-size="{size}" '
        f'text-anchor="{anchor}" fill="{INK}"{extra}>{spans}</text>'
    )


def _box(box, label, holds_others) -> str:
    fill, stroke, dashed = STYLES[box["style"]]
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    text_lines = lines(label)
    cx = box["x"] + box["w"] / 2
    if holds_others:
        # a box drawn around others: its label at its top, where nothing covers it
        first = box["y"] + LABEL_SIZE + 8
    else:
        # the block of lines centred; a baseline sits about a third of the size below
        first = box["y"] + box["h"] / 2 - (len(text_lines) - 1) * LINE_HEIGHT / 2 + LABEL_SIZE / 3
    weight = "bold" if holds_others else "normal"
    return (
        f'<g class="box {escape(box["style"])}">'
        f'<rect x="{_n(box["x"])}" y="{_n(box["y"])}" width="{_n(box["w"])}" '
        f'height="{_n(box["h"])}" rx="10" ry="10" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="2"{dash}/>'
        f"{_text(cx, first, text_lines, LABEL_SIZE, font_weight=weight)}"
        "</g>"
    )


def _ends(a, b) -> tuple[float, float, float, float]:
    """Where an arrow from box ``a`` to box ``b`` starts and ends: on their nearest sides,
    straight across where the boxes face each other."""
    ax2, ay2, bx2, by2 = a["x"] + a["w"], a["y"] + a["h"], b["x"] + b["w"], b["y"] + b["h"]
    left, right = max(a["x"], b["x"]), min(ax2, bx2)
    top, bottom = max(a["y"], b["y"]), min(ay2, by2)
    if left < right and not top < bottom:
        # one above the other: a vertical arrow through the span they share
        x = (left + right) / 2
        return (x, ay2, x, b["y"]) if ay2 <= b["y"] else (x, a["y"], x, by2)
    if top < bottom and not left < right:
        # side by side: a horizontal arrow
        y = (top + bottom) / 2
        return (ax2, y, b["x"], y) if ax2 <= b["x"] else (a["x"], y, bx2, y)
    # diagonal (or overlapping): the closest pair of side midpoints
    best = None
    for sx, sy in _midpoints(a):
        for ex, ey in _midpoints(b):
            distance = (sx - ex) ** 2 + (sy - ey) ** 2
            if best is None or distance < best[0]:
                best = (distance, (sx, sy, ex, ey))
    return best[1]


def _midpoints(box):
    x, y, w, h = box["x"], box["y"], box["w"], box["h"]
    return ((x + w / 2, y), (x + w / 2, y + h), (x, y + h / 2), (x + w, y + h / 2))


def _arrow(ends, marker) -> str:
    x1, y1, x2, y2 = ends
    return (
        f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{INK}" '
        f'stroke-width="2" marker-end="url(#{marker})"/>'
    )


def _arrow_label(ends, label) -> str:
    """A label by the middle of its arrow: above a horizontal one, beside a vertical one,
    and for a slanting one on the side its upper half leaves free."""
    x1, y1, x2, y2 = ends
    text_lines = lines(label)
    x, y = (x1 + x2) / 2, (y1 + y2) / 2
    flat = abs(x2 - x1) >= abs(y2 - y1)
    upper_x, lower_x = (x1, x2) if y1 < y2 else (x2, x1)
    if y1 == y2:
        anchor = "middle"
    elif upper_x > lower_x:
        anchor, x = "end", x - 8  # rising to the right: the upper left is free
    else:
        anchor, x = "start", x + 8
    if flat:
        y -= 8 + (len(text_lines) - 1) * LINE_HEIGHT
    else:
        y += 4 - (len(text_lines) - 1) * LINE_HEIGHT / 2
    # a halo of the background under the letters keeps them readable over lines
    text = _text(
        x, y, text_lines, 12, anchor, paint_order="stroke", stroke="#ffffff", stroke_width="4"
    )
    return f'<g class="arrow-label">{text}</g>'


def describe(diagram, lang) -> str:
    """The drawing in words, for screen readers: its parts, what holds what, its arrows."""
    words = WORDS.get(lang, WORDS["en"])
    named = {box["id"]: " ".join(lines(box["label"][lang])) for box in diagram["boxes"]}
    parts = []
    for box in diagram["boxes"]:
        inside = [named[b["id"]] for b in diagram["boxes"] if _contains(box, b)]
        text = named[box["id"]]
        parts.append(f"{text} ({words['contains']} {', '.join(inside)})" if inside else text)
    links = []
    for arrow in diagram["arrows"]:
        link = f"{named[arrow['from']]} → {named[arrow['to']]}"
        if arrow["label"]:
            link += f" ({' '.join(lines(arrow['label'][lang]))})"
        links.append(link)
    text = f"{words['parts']} : " if lang == "fr" else f"{words['parts']}: "
    text += "; ".join(parts) + "."
    if links:
        text += f" {words['links']} : " if lang == "fr" else f" {words['links']}: "
        text += "; ".join(links) + "."
    return text


def render(diagram: dict, lang: str, name: str) -> str:
    """The diagram as an SVG document in ``lang``; ``name`` keeps its ids apart from those
    of other diagrams inlined in the same page."""
    width, height = _n(diagram["width"]), _n(diagram["height"])
    # an XML id: starts with a letter, holds no space or quote
    prefix = "diagram-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)
    marker, title_id, desc_id = f"{prefix}-arrow", f"{prefix}-title", f"{prefix}-desc"
    title = diagram["title"][lang]
    by_id = {box["id"]: box for box in diagram["boxes"]}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" lang="{lang}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(describe(diagram, lang))}</desc>',
        "<defs>"
        f'<marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" '
        f'markerWidth="{ARROW_SIZE}" markerHeight="{ARROW_SIZE}" markerUnits="userSpaceOnUse" '
        f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker>'
        "</defs>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        _text(diagram["width"] / 2, TITLE_SIZE + 10, lines(title), TITLE_SIZE, font_weight="bold"),
    ]
    for box in diagram["boxes"]:
        holds = any(_contains(box, other) for other in diagram["boxes"])
        parts.append(_box(box, box["label"][lang], holds))
    ends = [_ends(by_id[a["from"]], by_id[a["to"]]) for a in diagram["arrows"]]
    parts += [_arrow(end, marker) for end in ends]
    # labels last: above every line
    parts += [
        _arrow_label(end, arrow["label"][lang])
        for end, arrow in zip(ends, diagram["arrows"], strict=True)
        if arrow["label"]
    ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
