"""The body map, pure (CPython-testable): where a lesion is, as a region of a front/back figure.

A lesion's ``region`` is one of :data:`REGIONS`' codes (``front-chest``, ``back-left-thigh``):
stable, language-independent, stored in the history and shown through the wording catalogue
(``bodymap.part.<part>`` and ``bodymap.side.<side>``). :func:`svg` draws both figures as
simple shapes, one per region (``[data-region]``: a click chooses it), with a dot per lesion
coloured by its priority. No ``style=`` anywhere (the security policy refuses inline
styles): colours are classes of ``history.css``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skinlens.view import esc
from skinlens.wording import Wording

SIDES = ("front", "back")
FIGURE_WIDTH = 100
"""The back figure is drawn this far (plus a gap) to the right of the front one."""


@dataclass(frozen=True)
class Region:
    code: str
    side: str
    part: str
    shape: str
    """``rect`` or ``ellipse``."""
    box: tuple[float, float, float, float]
    """x, y, width, height in the front figure's coordinates (``viewBox`` units)."""

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        dx = 0 if self.side == "front" else FIGURE_WIDTH + 20
        return x + dx + w / 2, y + h / 2


# (part on the front, part on the back, shape, box); limbs: the person's right is on the
# viewer's left from the front and on the viewer's right from the back.
_TRUNK = (
    ("head", "head", "ellipse", (38, 6, 24, 28)),
    ("neck", "neck", "rect", (45, 34, 10, 8)),
    ("chest", "upper-back", "rect", (32, 42, 36, 30)),
    ("abdomen", "lower-back", "rect", (32, 72, 36, 26)),
    ("pelvis", "buttocks", "rect", (32, 98, 36, 18)),
)
_LIMBS = (  # part, shape, box of the limb drawn on the viewer's left
    ("upper-arm", "rect", (20, 44, 11, 34)),
    ("forearm", "rect", (17, 79, 11, 29)),
    ("hand", "ellipse", (15, 108, 12, 16)),
    ("thigh", "rect", (33, 117, 16, 43)),
    ("lower-leg", "rect", (34, 161, 14, 42)),
    ("foot", "ellipse", (33, 204, 16, 10)),
)


def _mirror(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return FIGURE_WIDTH - x - w, y, w, h


def _regions() -> tuple[Region, ...]:
    out: list[Region] = []
    for side in SIDES:
        for front_part, back_part, shape, box in _TRUNK:
            part = front_part if side == "front" else back_part
            out.append(Region(f"{side}-{part}", side, part, shape, box))
        for part, shape, box in _LIMBS:
            # front: the person's right is drawn on the viewer's left; back: the reverse
            left_box, right_box = (_mirror(box), box) if side == "front" else (box, _mirror(box))
            out.append(Region(f"{side}-right-{part}", side, f"right-{part}", shape, right_box))
            out.append(Region(f"{side}-left-{part}", side, f"left-{part}", shape, left_box))
    return tuple(out)


REGIONS: tuple[Region, ...] = _regions()
BY_CODE: dict[str, Region] = {r.code: r for r in REGIONS}


def region_text(code: str, w: Wording) -> str:
    """A region as a person reads it ("Chest, front"); an unknown code as it is."""
    r = BY_CODE.get(code)
    if r is None:
        return code
    hand, _, limb = r.part.partition("-")
    if hand in ("left", "right"):
        return w.text(
            "bodymap.region-sided",
            part=w.text(f"bodymap.part.{limb}"),
            hand=w.text(f"bodymap.hand.{hand}"),
            side=w.text(f"bodymap.side.{r.side}"),
        )
    return w.text(
        "bodymap.region",
        part=w.text(f"bodymap.part.{r.part}"),
        side=w.text(f"bodymap.side.{r.side}"),
    )


@dataclass(frozen=True)
class Dot:
    """A lesion on the map."""

    lesion: str
    region: str
    priority: str
    label: str


def svg(w: Wording, *, svg_id: str, chosen: str | None = None, dots: Sequence[Dot] = ()) -> str:
    """Both figures; ``chosen`` is marked ``aria-pressed``; ``dots`` in their regions (several
    in one region side by side)."""
    parts = [
        f'<svg id="{esc(svg_id)}" class="body-map" viewBox="0 0 {2 * FIGURE_WIDTH + 20} 232" '
        f'role="group" aria-label="{esc(w.text("bodymap.label"))}">'
    ]
    for side, dx in (("front", 0), ("back", FIGURE_WIDTH + 20)):
        title = esc(w.text(f"bodymap.side.{side}"))
        parts.append(
            f'<g transform="translate({dx} 0)"><text class="map-title" x="{FIGURE_WIDTH / 2}" '
            f'y="229">{title}</text>'
        )
        for r in REGIONS:
            if r.side != side:
                continue
            x, y, width, h = r.box
            name = esc(region_text(r.code, w))
            common = (
                f'data-region="{r.code}" tabindex="0" role="button" aria-label="{name}" '
                f'aria-pressed="{"true" if r.code == chosen else "false"}"'
            )
            if r.shape == "ellipse":
                parts.append(
                    f'<ellipse {common} cx="{x + width / 2}" cy="{y + h / 2}" rx="{width / 2}" '
                    f'ry="{h / 2}"><title>{name}</title></ellipse>'
                )
            else:
                parts.append(
                    f'<rect {common} x="{x}" y="{y}" width="{width}" height="{h}" rx="3">'
                    f"<title>{name}</title></rect>"
                )
        parts.append("</g>")
    seen: dict[str, int] = {}
    for d in dots:
        region = BY_CODE.get(d.region)
        if region is None:
            continue
        n = seen.get(d.region, 0)
        seen[d.region] = n + 1
        cx, cy = region.centre
        cx += (0, 5, -5)[n % 3]  # the centre, right, left; then a row lower
        cy += (n // 3) * 5
        parts.append(
            f'<circle class="dot prio-{esc(d.priority)}" data-lesion="{esc(d.lesion)}" '
            f'cx="{cx:.1f}" cy="{cy:.1f}" r="3.6"><title>{esc(d.label)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)
