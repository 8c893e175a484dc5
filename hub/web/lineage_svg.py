"""An adapter's lineage as an inline SVG drawn on the server: parents on the left (what it was trained,
mixed, resized... from, with the weights), the adapter in the middle, children on the right. No JavaScript,
no layout library: one column per side is what a LoRA's family looks like in practice."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

BOX_W, BOX_H, GAP_Y, COL_GAP = 190, 44, 14, 170
SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True)
class Node:
    label: str
    href: str | None = None  # a registry entry's page; None for outside parents (a base model, a Hub file)
    edge: str = ""  # "mixed-from · 0.7"


def edge_label(operation: str, params: dict) -> str:
    label = operation
    if "weight" in params:
        label += f" · {params['weight']:g}" if isinstance(params["weight"], int | float) else f" · {params['weight']}"
    if params.get("method") and operation == "mixed-from":
        label += f" ({params['method']})"
    return label


def _fit(text: str, chars: int = 26) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _local(href: str | None) -> str | None:
    """Links go to this app's own pages only: a name or a card cannot smuggle in ``javascript:`` or another site."""
    return href if href and href.startswith("/") and not href.startswith("//") else None


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    # ElementTree escapes every text and attribute value it writes: labels come from file names, cards and
    # metadata written by strangers, and are never pasted into markup as strings.
    el = ET.SubElement(parent, tag, {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()})
    el.text = text
    return el


def _box(svg: ET.Element, x: int, y: int, node: Node, *, current: bool = False) -> None:
    cls = "lineage-node current" if current else ("lineage-node" if node.href else "lineage-node outside")
    href = None if current else _local(node.href)
    holder = _element(svg, "a", href=href) if href else svg
    _element(holder, "rect", class_=cls, x=x, y=y, width=BOX_W, height=BOX_H, rx=8)
    text = _element(holder, "text", _fit(node.label), x=x + BOX_W // 2, y=y + BOX_H // 2 + 5, text_anchor="middle")
    _element(text, "title", node.label)


def lineage_svg(current: str, parents: list[Node], children: list[Node]) -> str:
    """The graph, as SVG markup built by ElementTree (safe to embed as is); "" when there is no recorded family."""
    if not parents and not children:
        return ""
    rows = max(len(parents), len(children), 1)
    height = rows * (BOX_H + GAP_Y) + GAP_Y
    columns = [parents, [Node(current)], children]
    xs = [10, 10 + BOX_W + COL_GAP, 10 + 2 * (BOX_W + COL_GAP)]
    if not parents:
        columns, xs = columns[1:], xs[:2]
    elif not children:
        columns, xs = columns[:2], xs[:2]
    width = xs[-1] + BOX_W + 10

    def ys(n: int) -> list[int]:
        top = (height - n * (BOX_H + GAP_Y) + GAP_Y) // 2
        return [top + i * (BOX_H + GAP_Y) for i in range(n)]

    svg = ET.Element("svg", {"class": "lineage", "xmlns": SVG_NS, "viewBox": f"0 0 {width} {height}",
                             "width": str(width), "height": str(height), "role": "img",
                             "aria-label": f"lineage of {current}"})  # fmt: skip
    mid_col = 1 if parents else 0
    cy = ys(1)[0] + BOX_H // 2
    for col, nodes in enumerate(columns):
        if col == mid_col:
            continue
        for node, y in zip(nodes, ys(len(nodes)), strict=True):
            left_side = col < mid_col
            x1 = xs[col] + BOX_W if left_side else xs[mid_col] + BOX_W
            x2 = xs[mid_col] if left_side else xs[col]
            y1, y2 = (y + BOX_H // 2, cy) if left_side else (cy, y + BOX_H // 2)
            _element(svg, "path", class_="lineage-edge", d=f"M{x1},{y1} C{x1 + 60},{y1} {x2 - 60},{y2} {x2},{y2}")
            # the label sits at the far end of the edge, above it, where edges have not converged yet
            lx, ly, anchor = (x1 + 8, y1 - 7, "start") if left_side else (x2 - 8, y2 - 7, "end")
            _element(svg, "text", node.edge, class_="lineage-label", x=lx, y=ly, text_anchor=anchor)
    for col, nodes in enumerate(columns):
        for node, y in zip(nodes, ys(len(nodes)), strict=True):
            _box(svg, xs[col], y, node, current=col == mid_col)
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True)
