"""The model's metadata JSON: the one source of truth for classes, priorities,
input normalisation, calibration temperature and decision thresholds.

Training writes it, the page reads it, and the tests check the shipped model's
files against it, so no class list or threshold is ever typed twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skinlens import preprocess

CHANGE_KEYS = (
    "area_growth",
    "asymmetry_rise",
    "border_rise",
    "new_colours",
    "colour_min_share",
    "new_colour_share",
    "new_colour_absent",
)
"""Fields of the optional ``change`` section (:class:`ChangeThresholds`)."""

PRIORITY_ORDER: tuple[str, ...] = ("Urgent", "High", "Medium", "Low")
"""Most to least urgent. ``None`` (cannot assess) is not part of the order."""

REQUIRED_KEYS = (
    "schema_version",
    "name",
    "architecture",
    "input",
    "outputs",
    "classes",
    "calibration",
    "thresholds",
    "recommendations",
    "live",
)


@dataclass(frozen=True)
class LesionClass:
    index: int
    code: str
    name: str
    priority: str


@dataclass(frozen=True)
class LiveSettings:
    """The metadata's ``live`` section: how the camera view samples and smooths."""

    roi_fraction: float
    """Side of the guide circle's square ROI as a fraction of the video's short side."""
    max_fps: float
    """Frame-rate cap (the track's own rate caps it further)."""
    idle_share: float
    """Share of the time left to the page between frames."""
    smoothing: dict[str, Any]
    """:class:`skinlens.smoothing.SmoothingConfig` fields."""


@dataclass(frozen=True)
class ChangeThresholds:
    """The metadata's ``change`` section (plus the model's melanoma escalation threshold):
    when a lesion's change between two checks raises its priority
    (:func:`skinlens.change.compare`, whose docstring says why each value)."""

    area_growth: float
    """Least relative growth of the lesion's share of the frame (0.2: +20%)."""
    asymmetry_rise: float
    """Least rise of the asymmetry index (0..1)."""
    border_rise: float
    """Least relative rise of the border irregularity index (0.3: +30%)."""
    new_colours: int
    """Least number of new dermoscopic colours."""
    colour_min_share: float
    """Share of the lesion's pixels a colour needs to count as present."""
    new_colour_share: float
    """Share a colour needs now to count as new ..."""
    new_colour_absent: float
    """... having covered less than this share before."""
    mel_threshold: float
    """The model's melanoma escalation threshold (``thresholds.escalation.mel``)."""
    codes: tuple[str, ...]
    """The class codes, in the order of a check's probabilities."""


@dataclass(frozen=True)
class ModelInfo:
    """Typed view of ``metadata.json`` with the fields the app needs."""

    raw: dict[str, Any]

    @property
    def classes(self) -> list[LesionClass]:
        return [
            LesionClass(c["index"], c["code"], c["name"], c["priority"])
            for c in self.raw["classes"]
        ]

    @property
    def codes(self) -> list[str]:
        return [c["code"] for c in self.raw["classes"]]

    @property
    def input_size(self) -> int:
        return int(self.raw["input"]["size"])

    @property
    def norm_scale(self) -> float:
        return float(self.raw["input"]["normalization"]["scale"])

    @property
    def norm_offset(self) -> float:
        return float(self.raw["input"]["normalization"]["offset"])

    @property
    def color_constancy(self) -> str | None:
        """``input.color_constancy`` (``None``: the model takes the crop's colours as they are)."""
        return self.raw["input"].get("color_constancy")

    def model_input(self, rgb: np.ndarray) -> np.ndarray:
        """A uint8 RGB crop of the input size -> the float32 input, exactly as in training
        (colour constancy if the model wants it, then the normalisation)."""
        pixels = preprocess.model_pixels(rgb, self.color_constancy)
        return preprocess.normalize(pixels, self.norm_scale, self.norm_offset)

    @property
    def temperature(self) -> float:
        return float(self.raw["calibration"]["temperature"])

    @property
    def thresholds(self) -> dict[str, Any]:
        return self.raw["thresholds"]

    @property
    def recommendations(self) -> dict[str, str]:
        return self.raw["recommendations"]

    @property
    def escalation(self) -> dict[str, str]:
        """Class code -> priority it escalates to when its threshold is reached."""
        return self.raw.get("escalation", {})

    @property
    def escalation_lower(self) -> dict[str, dict[str, str]]:
        """Class code -> ``{"priority", "advice"}`` of its lower tier (a probability below
        the class's own escalation threshold that still asks for a check within weeks)."""
        return self.raw.get("escalation_lower", {})

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the model's outputs (what the inference worker returns)."""
        return tuple(self.raw["outputs"])

    @property
    def live(self) -> LiveSettings:
        section = self.raw["live"]
        return LiveSettings(
            roi_fraction=float(section["roi_fraction"]),
            max_fps=float(section["max_fps"]),
            idle_share=float(section["idle_share"]),
            smoothing=dict(section["smoothing"]),
        )

    @property
    def change(self) -> ChangeThresholds:
        """The ``change`` section, typed, with the melanoma threshold it is checked with."""
        section = self.raw["change"]
        return ChangeThresholds(
            area_growth=float(section["area_growth"]),
            asymmetry_rise=float(section["asymmetry_rise"]),
            border_rise=float(section["border_rise"]),
            new_colours=int(section["new_colours"]),
            colour_min_share=float(section["colour_min_share"]),
            new_colour_share=float(section["new_colour_share"]),
            new_colour_absent=float(section["new_colour_absent"]),
            mel_threshold=float(self.thresholds["escalation"]["mel"]),
            codes=tuple(self.codes),
        )

    @property
    def model_id(self) -> str:
        """``name@version`` of the model a result came from, stored with every saved check so a
        timeline compares like with like. ``version`` is the metadata's own when it has one,
        else the first 12 hex digits of the SHA-256 of its canonical JSON: a retrained or
        recalibrated model changes its thresholds or temperature, hence its id."""
        version = self.raw.get("version")
        if not version:
            canonical = json.dumps(self.raw, sort_keys=True, separators=(",", ":"))
            version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
        return f"{self.raw['name']}@{version}"


def validate(raw: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first problem in a metadata dict."""
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ValueError(f"metadata is missing keys: {missing}")
    classes = raw["classes"]
    if [c["index"] for c in classes] != list(range(len(classes))):
        raise ValueError("class indices must be 0..n-1 in order")
    for c in classes:
        if c["priority"] not in PRIORITY_ORDER:
            raise ValueError(f"class {c['code']}: unknown priority {c['priority']!r}")
    for level in (*PRIORITY_ORDER, "None"):
        if level not in raw["recommendations"]:
            raise ValueError(f"no recommendation for priority {level!r}")
    norm = raw["input"]["normalization"]
    if not {"scale", "offset"} <= set(norm):
        raise ValueError("input.normalization needs scale and offset")
    if float(raw["calibration"]["temperature"]) <= 0:
        raise ValueError("calibration temperature must be > 0")
    if not 0.0 < float(raw["live"]["roi_fraction"]) <= 1.0:
        raise ValueError("live.roi_fraction must be in (0, 1]")
    if "change" in raw:
        missing = [k for k in CHANGE_KEYS if k not in raw["change"]]
        if missing:
            raise ValueError(f"change section is missing keys: {missing}")
    upper = raw.get("thresholds", {}).get("escalation", {})
    for code, limit in raw.get("thresholds", {}).get("escalation_lower", {}).items():
        rule = raw.get("escalation_lower", {}).get(code)
        if rule is None or rule.get("priority") not in PRIORITY_ORDER or not rule.get("advice"):
            raise ValueError(f"escalation_lower.{code} needs a priority and an advice key")
        if code in upper and not float(limit) <= float(upper[code]):
            raise ValueError(f"{code}: the lower tier's threshold must not exceed the upper's")


def parse(text: str) -> ModelInfo:
    raw = json.loads(text)
    validate(raw)
    return ModelInfo(raw)


def load(path: str | Path) -> ModelInfo:
    return parse(Path(path).read_text(encoding="utf-8"))
