"""The speed test, pure (runs under CPython too): time the model per backend and batch size,
and draw the two plots (latency per batch and per image vs batch size) as SVG.

Timing rule per backend: for each batch size in :data:`BATCH_SIZES`, one untimed call first
(a new input shape makes a backend compile kernels or allocate), then a few timed calls,
the median kept. A backend stops at the first call slower than :data:`STOP_MS` (software
WebGL or plain-JavaScript CPU would otherwise take minutes at batch 32); a backend whose very
first call is that slow still gets its batch-1 point, so every backend offered has a line.
The times are the worker's (the model call itself, without the page's copying).

The plots are drawn here (no chart library): log2 batch axis, log10 millisecond axis, one
line per backend, axis labels with units, a legend; sized by ``viewBox`` so they scale down
to a phone's width with the text still legible.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from skinlens import preprocess, quality
from skinlens.decode import decode_image, target_for
from skinlens.metadata import ModelInfo
from skinlens.view import esc

BATCH_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
STOP_MS = 3000.0
"""A call slower than this ends the backend's run ("a few seconds")."""


@dataclass(frozen=True)
class Measurement:
    """One point: ``#speed[data-results]`` holds a list of these as dicts."""

    backend: str
    batch: int
    ms_per_batch: float
    ms_per_image: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


TimedCall = Callable[[np.ndarray], Awaitable[float]]
"""A model call on a batch that returns how long it took (ms)."""


def repeats(batch: int) -> int:
    """Timed calls per batch size: more for small batches (noisier), fewer for large ones."""
    return max(2, 8 // batch)


async def time_backend(
    backend: str, call: TimedCall, inputs: np.ndarray, on_point: Callable[[Measurement], None]
) -> list[Measurement]:
    """Every batch size of :data:`BATCH_SIZES` up to ``len(inputs)`` (see the module's rule)."""
    points: list[Measurement] = []
    for batch in BATCH_SIZES:
        if batch > len(inputs):
            break
        x = inputs[:batch]
        first = await call(x)
        if points and first > STOP_MS:
            break
        times = [await call(x) for _ in range(1 if first > STOP_MS else repeats(batch))]
        ms = statistics.median(times)
        point = Measurement(backend, batch, round(ms, 2), round(ms / batch, 2))
        points.append(point)
        on_point(point)
        if max(times) > STOP_MS:
            break
    return points


def best_batches(points: Sequence[Measurement]) -> dict[str, dict[str, float]]:
    """``{backend: {batch: ms_per_image}}`` (what batch mode picks its batch size from)."""
    out: dict[str, dict[str, float]] = {}
    for p in points:
        out.setdefault(p.backend, {})[str(p.batch)] = p.ms_per_image
    return out


# ------------------------------------------------------------------------------ Python steps
def noisy_jpeg(width: int, height: int, seed: int = 0) -> bytes:
    """A skin-toned JPEG with fine noise (so the encoder and decoder do real work)."""
    rng = np.random.default_rng(seed)
    yy = np.linspace(0.8, 1.0, height, dtype=np.float32)[:, None, None]
    base = np.array([222, 172, 152], np.float32) * yy
    noise = rng.integers(-12, 13, (height, width, 1), dtype=np.int16).astype(np.float32)
    rgb = np.clip(base + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def median_ms(step: Callable[[], object], runs: int, clock: Callable[[], float]) -> float:
    times = []
    for _ in range(runs):
        t0 = clock()
        step()
        times.append((clock() - t0) * 1000.0)
    return round(statistics.median(times), 2)


def python_steps(
    info: ModelInfo, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Median ms of the Python side: a HAM10000-sized (600x450) photo decoded, cropped,
    gated and normalised; and a 12 MP JPEG's decode (at the reduced scale the app uses)."""
    small, large = noisy_jpeg(600, 450), noisy_jpeg(4000, 3000)
    target = target_for(info.input_size)
    thresholds = quality.QualityThresholds.from_info(info)

    def prep() -> None:
        crop = preprocess.crop_resize(decode_image(small, target=target).image, info.input_size)
        quality.run_all(crop, thresholds)
        info.model_input(crop)

    return {
        "python_prep_ms_per_image": median_ms(prep, 9, clock),
        "decode_12mp_ms": median_ms(lambda: decode_image(large, target=target), 3, clock),
    }


# ------------------------------------------------------------------------------ plots
W, H = 480, 300
LEFT, RIGHT, TOP, BOTTOM = 62, 16, 30, 74
"""Plot area margins in viewBox units (room for tick labels, axis labels and the legend)."""


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks covering ``[lo, hi]`` (log scale)."""
    ticks = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        ticks += [m * 10.0**k for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
    return ticks or [lo, hi]


def _fmt_ms(v: float) -> str:
    return f"{v:g}" if v < 1000 else f"{v / 1000:g}k"


def plot_svg(
    points: Sequence[Measurement], field: str, title: str, y_label: str, x_label: str
) -> str:
    """A line plot of ``field`` (``ms_per_batch`` or ``ms_per_image``) against batch size,
    one ``path.series[data-backend]`` per backend."""
    values = [float(getattr(p, field)) for p in points] or [1.0]
    lo = 10 ** math.floor(math.log10(max(min(values), 1e-3)))
    hi = 10 ** math.ceil(math.log10(max(max(values), lo * 10)))
    x_hi = math.log2(max(BATCH_SIZES))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(batch: float) -> float:
        return LEFT + pw * math.log2(batch) / x_hi

    def sy(v: float) -> float:
        return TOP + ph * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))

    parts = [f'<text class="plot-title" x="{W / 2}" y="18">{esc(title)}</text>']
    for t in _log_ticks(lo, hi):
        y = sy(t)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick y" x="{LEFT - 6}" y="{y + 4:.1f}">{_fmt_ms(t)}</text>')
    for b in BATCH_SIZES:
        x = sx(b)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + ph}"/>')
        parts.append(f'<text class="tick x" x="{x:.1f}" y="{TOP + ph + 16}">{b}</text>')
    parts.append(
        f'<text class="axis-label" x="{LEFT + pw / 2}" y="{TOP + ph + 34}">{esc(x_label)}</text>'
        f'<text class="axis-label" transform="translate(14 {TOP + ph / 2}) rotate(-90)">'
        f"{esc(y_label)}</text>"
    )
    backends = list(dict.fromkeys(p.backend for p in points))
    for i, name in enumerate(backends):
        pts = [(sx(p.batch), sy(float(getattr(p, field)))) for p in points if p.backend == name]
        d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(pts))
        dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5"/>' for x, y in pts)
        lx = LEFT + i * 100
        parts.append(
            f'<g class="series-{esc(name)}"><path class="series" data-backend="{esc(name)}" '
            f'd="{d}"/>{dots}<line class="legend-line" x1="{lx}" x2="{lx + 22}" y1="{H - 12}" '
            f'y2="{H - 12}"/><text class="legend" x="{lx + 28}" y="{H - 7}">{esc(name)}</text></g>'
        )
    return (
        f'<svg class="plot" viewBox="0 0 {W} {H}" role="img" aria-label="{esc(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
