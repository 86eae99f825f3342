"""What changed between two checks of one lesion: shape and colour measures of its outline
(:mod:`skinlens.segment`) and the model's class probabilities, and whether the change is
reason enough to raise the lesion's priority.

Measures (:func:`measure`), each of one model-input crop:

* ``area_share``: the lesion's share of the frame. **Depends on framing and distance**: the
  same mole photographed from twice as far has a quarter of the share.
* ``asymmetry`` (0..1): how far the outline differs from its mirror image about the worse of
  its two principal axes through the centroid (the "A" of ABCD). Invariant to rotation, position and
  scale (the axes turn with the lesion; the mismatch is a share of its area).
* ``border_irregularity``: ``perimeter^2 / (4 pi area)``, 1 for a disc, larger for a ragged or
  scalloped border (the "B"). Invariant to rotation and scale. The perimeter is the summed
  gradient magnitude of the Gaussian-blurred mask (blur in proportion to the lesion's size),
  which by the co-area formula is the length of its outline and, unlike counting pixel
  edges, does not depend on how the outline lies on the pixel grid (with a one-pixel blur a
  square reads 1.25-1.26 at every angle, a disc 1.00-1.01).
* ``colours``: how many of the six dermoscopic colours (white, red, light brown, dark brown,
  blue-grey, black; the "C") cover at least ``change.colour_min_share`` of the lesion. Each
  lesion pixel of the colour-constant image goes to the nearest of six fixed prototypes or
  to the frame's own skin colour (such pixels count for no colour). Independent of framing.
* ``mean_colour``: the lesion's mean colour on the colour-constant image.

:func:`compare` turns two checks into :class:`Changes`; its docstring justifies each
threshold. The thresholds are the metadata's ``change`` section
(:attr:`skinlens.metadata.ModelInfo.change`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from skinlens.metadata import ChangeThresholds
from skinlens.preprocess import shades_of_gray
from skinlens.segment import bounding_box, constant_mask, ring_mask

MEASURES_VERSION = 1
"""Bumped whenever a measure's definition changes, so stored measures are recomputed."""

COLOUR_PROTOTYPES: dict[str, tuple[int, int, int]] = {
    "white": (236, 234, 236),
    "red": (196, 78, 86),
    "light-brown": (160, 112, 84),
    "dark-brown": (92, 58, 44),
    "blue-grey": (98, 114, 138),
    "black": (28, 26, 28),
}
"""sRGB prototypes of the dermoscopic colours as they look after Shades-of-Gray colour
constancy (which turns the skin around a lesion roughly neutral, so the browns lose some of
their warmth). Set by hand from the colours' usual appearance; the tests check that each
prototype's own colour is counted and that skin is not. Not validated against expert colour
annotations (no such labels in our data)."""
COLOURS: tuple[str, ...] = tuple(COLOUR_PROTOTYPES)

BORDER_SMOOTHING = 0.04
"""Gaussian blur of the outline before its length is taken, as a share of the square root
of the lesion's area (2.4 pixels for a 60x60-pixel lesion). On 150 pairs of HAM10000 `val`
photos of the same lesion (often at different magnifications; bench/change_noise.py) it
halves the median difference of the border measure against a fixed one-pixel blur
(0.145 -> 0.050 relative) while a 12-fold scalloped border still reads far above a smooth
one."""

MEASURE_NAMES: tuple[str, ...] = ("area_share", "asymmetry", "border_irregularity", "colours")
FRAMING_DEPENDENT: dict[str, bool] = {
    "area_share": True,
    "asymmetry": False,
    "border_irregularity": False,
    "colours": False,
}
"""Which measures change when the same lesion is photographed from nearer or further."""

# Escalation reason codes (``Changes.reasons``; stable: the page and the wording use them).
GREW = "grew"
NEW_COLOUR = "new-colour"
ASYMMETRY = "asymmetry"
BORDER = "border"
MEL_ROSE = "mel-rose"
REASONS: tuple[str, ...] = (GREW, NEW_COLOUR, ASYMMETRY, BORDER, MEL_ROSE)


@dataclass(frozen=True)
class LesionMeasures:
    """The measures of one crop (see the module docstring). ``found`` is ``False`` when the
    segmentation found no lesion; then only ``area_share`` (0) means anything."""

    found: bool
    area_share: float
    asymmetry: float | None
    border_irregularity: float | None
    colour_shares: dict[str, float]
    """Share of the lesion's pixels nearest each colour prototype."""
    colours: int
    """Colours whose share reached the minimum :func:`measure` was given."""
    mean_colour: tuple[float, float, float] | None

    def colour_names(self, min_share: float) -> tuple[str, ...]:
        """The colours present at ``min_share``, in :data:`COLOURS` order."""
        return tuple(c for c in COLOURS if self.colour_shares.get(c, 0.0) >= min_share)

    def to_json(self) -> dict[str, Any]:
        """JSON-able, stored with a check so a history view need not segment again."""
        return {
            "version": MEASURES_VERSION,
            "found": self.found,
            "area_share": self.area_share,
            "asymmetry": self.asymmetry,
            "border_irregularity": self.border_irregularity,
            "colour_shares": dict(self.colour_shares),
            "colours": self.colours,
            "mean_colour": None if self.mean_colour is None else list(self.mean_colour),
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> LesionMeasures | None:
        """Stored measures, or ``None`` when they were made by another definition."""
        if d.get("version") != MEASURES_VERSION:
            return None
        mean = d["mean_colour"]
        return LesionMeasures(
            found=bool(d["found"]),
            area_share=float(d["area_share"]),
            asymmetry=d["asymmetry"],
            border_irregularity=d["border_irregularity"],
            colour_shares={k: float(v) for k, v in d["colour_shares"].items()},
            colours=int(d["colours"]),
            mean_colour=None if mean is None else (float(mean[0]), float(mean[1]), float(mean[2])),
        )


def asymmetry(mask: np.ndarray) -> float:
    """The larger, over the two principal axes, of ``1 - overlap(mask, mirrored mask) / area``.

    Each lesion pixel is mirrored about the axis through the centroid and the mask is read
    there (bilinear, so a sub-pixel mismatch counts as a fraction, not 0 or 1). The larger
    rather than the mean because a lesion asymmetric about one axis is asymmetric (the ABCD
    rule scores each axis): a round lesion that grows a bud is mirror-symmetric about the
    axis through the bud and only the other axis shows it. Measured once against the mean
    of the two (a variant of bench/change_noise.py): on HAM10000 same-lesion pairs both rose
    by 0.15 or more in 7% of pairs, while a disc's bud of a fifth of its area read 0.13
    with the larger and 0.06 with the mean.
    """
    ys, xs = np.nonzero(mask)
    if ys.size < 3:
        return 0.0
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    centre = pts.mean(axis=0)
    rel = pts - centre
    _, vecs = np.linalg.eigh(rel.T @ rel / len(rel))
    # Mirror about the line through the centre along each axis a: p' = 2 (p.a) a - p.
    mirrored = [2.0 * (rel @ a)[:, None] * a[None, :] - rel + centre for a in vecs.T]
    both = np.concatenate(mirrored)
    read = _bilinear(mask.astype(np.float32), both[:, 0], both[:, 1])
    overlap = read.reshape(2, -1).mean(axis=1)
    return float(np.clip(1.0 - overlap.min(), 0.0, 1.0))


def _bilinear(f: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``f`` read at fractional ``(x, y)``; 0 outside the frame."""
    h, w = f.shape
    padded = np.zeros((h + 2, w + 2), dtype=f.dtype)
    padded[1:-1, 1:-1] = f
    x = np.clip(x + 1.0, 0.0, w + 1.0 - 1e-6)
    y = np.clip(y + 1.0, 0.0, h + 1.0 - 1e-6)
    x0, y0 = np.floor(x).astype(np.intp), np.floor(y).astype(np.intp)
    x1, y1 = np.minimum(x0 + 1, w + 1), np.minimum(y0 + 1, h + 1)
    fx, fy = x - x0, y - y0
    top = padded[y0, x0] * (1 - fx) + padded[y0, x1] * fx
    bottom = padded[y1, x0] * (1 - fx) + padded[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def perimeter(mask: np.ndarray, sigma: float = 1.0) -> float:
    """The outline's length in pixels: summed gradient magnitude of the mask blurred with a
    Gaussian of ``sigma`` pixels (Pillow, C code); by the co-area formula that is the length
    of the blurred outline, isotropic to about 1% (module docstring). Only the mask's
    bounding box (with room for the blur) is blurred."""
    bounds = bounding_box(mask)
    if bounds is None:
        return 0.0
    top, bottom, left, right = bounds
    box = mask[top:bottom, left:right]
    pad = int(3 * sigma) + 2
    padded = np.zeros((box.shape[0] + 2 * pad, box.shape[1] + 2 * pad), dtype=np.uint8)
    padded[pad:-pad, pad:-pad] = box
    padded *= 255
    blurred = Image.fromarray(padded).filter(ImageFilter.GaussianBlur(sigma))
    f = np.asarray(blurred, dtype=np.float32) / 255.0
    gy, gx = np.gradient(f)
    return float(np.hypot(gx, gy).sum())


def border_irregularity(mask: np.ndarray) -> float:
    """``perimeter^2 / (4 pi area)``: 1 for a disc; free of rotation and of scale.

    The outline is smoothed in proportion to the lesion's size (:data:`BORDER_SMOOTHING`),
    so the same lesion photographed at another magnification keeps its value: with a fixed
    one-pixel blur a larger image of it resolves more ripples and reads more irregular.
    """
    area = float(mask.sum())
    if area == 0:
        return 0.0
    sigma = max(1.0, BORDER_SMOOTHING * math.sqrt(area))
    return perimeter(mask, sigma) ** 2 / (4.0 * math.pi * area)


def _skin_colour(cc: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The frame's skin: median of the outer ring's pixels outside the lesion (the whole
    ring when the lesion fills it)."""
    ring = ring_mask(mask.shape)
    pick = ring & ~mask
    return np.median(cc[pick if pick.any() else ring], axis=0)


def colour_shares(cc: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Share of the lesion's pixels whose colour-constant colour lies nearest each
    prototype (pixels nearest the frame's skin colour count for none)."""
    pixels = cc[mask].astype(np.float32)
    if pixels.shape[0] == 0:
        return dict.fromkeys(COLOURS, 0.0)
    protos = np.array([*COLOUR_PROTOTYPES.values(), _skin_colour(cc, mask)], dtype=np.float32)
    d = (
        np.einsum("ij,ij->i", pixels, pixels)[:, None]
        - 2.0 * pixels @ protos.T
        + np.einsum("ij,ij->i", protos, protos)[None, :]
    )
    counts = np.bincount(np.argmin(d, axis=1), minlength=len(protos))
    return {c: float(counts[i]) / pixels.shape[0] for i, c in enumerate(COLOURS)}


def measure(rgb_crop: np.ndarray, colour_min_share: float = 0.05) -> LesionMeasures:
    """The measures of one ``uint8`` RGB crop (the model-input crop of a check).

    ``colour_min_share`` only sets ``colours``; :func:`compare` recounts from the shares
    with the metadata's value, so stored measures stay comparable if it changes.
    """
    cc = shades_of_gray(rgb_crop)
    mask = constant_mask(cc)
    if not mask.any():
        return LesionMeasures(False, 0.0, None, None, dict.fromkeys(COLOURS, 0.0), 0, None)
    shares = colour_shares(cc, mask)
    mean = cc[mask].astype(np.float64).mean(axis=0)
    return LesionMeasures(
        found=True,
        area_share=float(mask.mean()),
        asymmetry=asymmetry(mask),
        border_irregularity=border_irregularity(mask),
        colour_shares=shares,
        colours=sum(1 for s in shares.values() if s >= colour_min_share),
        mean_colour=(float(mean[0]), float(mean[1]), float(mean[2])),
    )


@dataclass(frozen=True)
class CheckData:
    """What :func:`compare` needs of one check: its model-input crop and calibrated
    probabilities; the photo type (``dermoscopic`` / ``close_up``) decides whether two
    frames' sizes are comparable; ``measures`` when already computed (stored with the
    check), else they are measured from the crop."""

    crop: np.ndarray | None
    """``None`` only when ``measures`` are given."""
    probs: Sequence[float]
    photo_type: str | None = None
    measures: LesionMeasures | None = None

    def measured(self, colour_min_share: float) -> LesionMeasures:
        if self.measures is not None:
            return self.measures
        if self.crop is None:
            raise ValueError("a check needs its crop or its measures")
        return measure(self.crop, colour_min_share)


@dataclass(frozen=True)
class Delta:
    """One measure or probability before and after; ``relative`` is ``after / before - 1``
    (``None`` when ``before`` is 0 or either side is unknown)."""

    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def relative(self) -> float | None:
        if self.before is None or self.after is None or self.before == 0:
            return None
        return self.after / self.before - 1.0

    def to_json(self) -> dict[str, float | None]:
        return {
            "before": _round(self.before),
            "after": _round(self.after),
            "delta": _round(self.delta),
            "relative": _round(self.relative),
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


@dataclass(frozen=True)
class Changes:
    """Everything that changed from check ``a`` (earlier) to check ``b`` (later)."""

    measures: dict[str, Delta]
    """Each of :data:`MEASURE_NAMES`."""
    probs: dict[str, Delta]
    """Each class code's calibrated probability."""
    colours_before: tuple[str, ...]
    colours_after: tuple[str, ...]
    new_colours: tuple[str, ...]
    """Colours that appeared (absent before, clearly present now: :func:`compare`)."""
    mean_colour: tuple[tuple[float, ...] | None, tuple[float, ...] | None]
    found: tuple[bool, bool]
    """Whether a lesion outline was found in each crop (no shape measures otherwise)."""
    framing_comparable: bool
    """Both photos dermoscopic: contact dermoscopy fixes the distance, so the lesion's share
    of the frame can be compared (a close-up's depends on how far the phone was held)."""
    escalate: bool
    reasons: tuple[str, ...]
    """Codes of :data:`REASONS` that raised the priority, in that order."""
    framing_dependent: dict[str, bool] = field(default_factory=lambda: dict(FRAMING_DEPENDENT))

    @property
    def gone_colours(self) -> tuple[str, ...]:
        return tuple(c for c in self.colours_before if c not in self.colours_after)

    def to_json(self) -> dict[str, Any]:
        """``#compare[data-changes]``: every measure and probability before/after/delta,
        which measures depend on framing, and the escalation with its reasons."""
        measures = {}
        for name, d in self.measures.items():
            measures[name] = {
                **d.to_json(),
                "framing_dependent": self.framing_dependent[name],
                "escalates": _MEASURE_REASON[name] in self.reasons,
            }
        return {
            "measures": measures,
            "probs": {code: d.to_json() for code, d in self.probs.items()},
            "colours": {
                "before": list(self.colours_before),
                "after": list(self.colours_after),
                "new": list(self.new_colours),
                "gone": list(self.gone_colours),
            },
            "mean_colour": {
                "before": _colour_json(self.mean_colour[0]),
                "after": _colour_json(self.mean_colour[1]),
            },
            "found": {"before": self.found[0], "after": self.found[1]},
            "framing_dependent": [n for n, dep in self.framing_dependent.items() if dep],
            "framing_comparable": self.framing_comparable,
            "escalate": self.escalate,
            "reasons": list(self.reasons),
        }


_MEASURE_REASON = {
    "area_share": GREW,
    "asymmetry": ASYMMETRY,
    "border_irregularity": BORDER,
    "colours": NEW_COLOUR,
}


def _colour_json(c: tuple[float, ...] | None) -> list[float] | None:
    return None if c is None else [round(float(v), 1) for v in c]


def compare(a: CheckData, b: CheckData, thresholds: ChangeThresholds) -> Changes:
    """How lesion check ``b`` differs from the earlier check ``a``; escalates when any rule
    below holds. The rules follow the "evolving" criteria that dermatologists act on (the
    Glasgow 7-point checklist's major criteria are change in size, shape and colour;
    sequential dermoscopy monitoring refers a lesion for any such change), with limits set
    above what re-photographing an unchanged lesion produces here:

    * ``grew``: the lesion's share of the frame rose by at least ``area_growth`` (0.20)
      relative, **and** both photos are dermoscopic (:attr:`Changes.framing_comparable`).
      +20% area is about +10% diameter (0.5 mm on a 5 mm mole), about the least growth one
      can tell from two photos; rotating or shifting the same lesion in the frame moves the
      share by under 2% (tests/unit/test_change.py). Size depends on distance and
      magnification: between close-ups, or a close-up and a dermoscopy image, growth is
      reported but never escalates on its own. Even dermoscopy differs in magnification
      between devices: HAM10000's photos of one lesion differ in share by 79% (median;
      bench/change_noise.py), so the rule assumes the person uses the same dermatoscope.
    * ``new-colour``: at least ``new_colours`` (1) dermoscopic colour appeared: it covers
      ``new_colour_share`` (10%) of the lesion now and covered under ``new_colour_absent``
      (2%) before. A new colour (blue-grey, black, red, white) in a mole is one of the
      strongest signs of change, so one is enough; the gap between the two shares keeps a
      colour hovering near the presence limit (``colour_min_share``, 5%, which sets the
      ``colours`` count) from "appearing" between two photos of an unchanged lesion: with
      5%/5% it did so in 16% of the HAM10000 same-lesion pairs, with 10%/2% in 5%.
    * ``asymmetry``: the asymmetry index rose by at least ``asymmetry_rise`` (0.15): a round
      lesion growing a bud of a third of its area rises by about 0.18; two photos of one
      lesion differ by 0.02 (median) and reach 0.15 in 7% of HAM10000 same-lesion pairs
      (mostly where one photo's outline went astray); rotation moves it by under 0.01.
    * ``border``: border irregularity rose by at least ``border_rise`` (0.30) relative: a
      smooth oval whose border becomes scalloped (a 12-fold ripple of 12% depth) rises by
      about 0.36; two photos of one lesion differ by 0.05 (median) and reach 0.30 in 13% of
      the HAM10000 pairs, the noisiest rule (a ragged outline at another magnification).
    * ``mel-rose``: the melanoma probability crossed the model's own escalation threshold
      from below (``thresholds.escalation.mel``, chosen on the validation split for high
      sensitivity), i.e. the later photo alone would have been Urgent and the earlier not.

    Shape rules need an outline in both crops (``found``); without one only ``mel-rose``
    can escalate. Together the shape and colour rules fired on 17% of the HAM10000
    same-lesion pairs: photos at other magnifications and angles, harder than one person's
    repeat photos with one device, but a reminder that a raised priority asks for a
    doctor's look and is no diagnosis.
    """
    ma = a.measured(thresholds.colour_min_share)
    mb = b.measured(thresholds.colour_min_share)
    both = ma.found and mb.found
    colours_a = ma.colour_names(thresholds.colour_min_share) if ma.found else ()
    colours_b = mb.colour_names(thresholds.colour_min_share) if mb.found else ()
    appeared = tuple(
        c
        for c in COLOURS
        if both
        and mb.colour_shares[c] >= thresholds.new_colour_share
        and ma.colour_shares[c] < thresholds.new_colour_absent
    )
    measures = {
        "area_share": Delta(ma.area_share, mb.area_share),
        "asymmetry": Delta(ma.asymmetry, mb.asymmetry),
        "border_irregularity": Delta(ma.border_irregularity, mb.border_irregularity),
        "colours": Delta(float(len(colours_a)), float(len(colours_b))),
    }
    codes = thresholds.codes
    if len(a.probs) != len(codes) or len(b.probs) != len(codes):
        raise ValueError(f"expected {len(codes)} probabilities per check")
    probs = {c: Delta(float(a.probs[i]), float(b.probs[i])) for i, c in enumerate(codes)}
    comparable = a.photo_type == "dermoscopic" and b.photo_type == "dermoscopic"

    reasons = []
    grew = measures["area_share"].relative
    if both and comparable and grew is not None and grew >= thresholds.area_growth:
        reasons.append(GREW)
    if both and len(appeared) >= thresholds.new_colours:
        reasons.append(NEW_COLOUR)
    rise = measures["asymmetry"].delta
    if both and rise is not None and rise >= thresholds.asymmetry_rise:
        reasons.append(ASYMMETRY)
    border = measures["border_irregularity"].relative
    if both and border is not None and border >= thresholds.border_rise:
        reasons.append(BORDER)
    mel = codes.index("mel")
    if float(a.probs[mel]) < thresholds.mel_threshold <= float(b.probs[mel]):
        reasons.append(MEL_ROSE)
    return Changes(
        measures=measures,
        probs=probs,
        colours_before=colours_a,
        colours_after=colours_b,
        new_colours=appeared,
        mean_colour=(ma.mean_colour, mb.mean_colour),
        found=(ma.found, mb.found),
        framing_comparable=comparable,
        escalate=bool(reasons),
        reasons=tuple(reasons),
    )
