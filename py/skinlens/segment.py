"""The lesion's outline in a model-input crop: cheap numpy segmentation, no extra model.

Used to measure how a lesion changed between two checks (:mod:`skinlens.change`) and to
frame a photo around its lesion (:func:`lesion_box`). The steps, each a few numpy passes so
that a 224x224 crop takes milliseconds in CPython and in Pyodide:

1. **Colour constancy** (:func:`skinlens.preprocess.shades_of_gray`, the model's own), so
   the same lesion under another lamp gives the same channel.
2. **Lesion channel**: each pixel's colour distance from the frame's skin (the median colour
   of the outer ring of the frame, where a centred lesion rarely is), brightness-weighted so
   darker-than-skin counts more than lighter (pigment is darker; glare and paper are lighter).
3. **Otsu threshold** of that channel (:func:`otsu_threshold`); a frame whose two classes
   barely differ has no lesion (an empty mask).
4. **Light cleanup**: a 5x5 opening (hairs and specks go) then a 3x3 closing.
5. **The component nearest the centre** (the person aims at the lesion; a dermatoscope's
   dark corner or a second mole lies further out), by a run-length labelling
   (:func:`components`): runs found with numpy, unions over runs in Python, so the Python
   work grows with the number of runs (a few hundred), not pixels.
6. **Holes filled**: background components that do not touch the frame's edge.
"""

from __future__ import annotations

import numpy as np

from skinlens.preprocess import shades_of_gray

Box = tuple[float, float, float, float]

RING = 0.08
"""Width of the outer ring, as a share of the side, whose median colour is the skin."""
MIN_CONTRAST = 18.0
"""Least gap between the two Otsu classes' mean channel values (uint8 RGB distance units)
for a frame to have a lesion at all. Plain skin with pixel noise of 2, 4 and 8 levels
(standard deviation) gives 2, 5 and 10; of 300 HAM10000 `val` lesion crops 99.3% reach 18
(1st percentile 20, median 105). It only refuses frames with nothing in them: corner squares
of the same photos often catch a dermatoscope's dark edge and pass; whether a photo shows a
lesion is the model's ``lesion`` output."""
OPEN_RADIUS = 2
"""The opening's square is ``2r+1`` = 5 pixels: hairs up to 4 pixels wide at 224x224 (one
hair, or two side by side) and specks go; a lesion loses only its finest fringe."""
MIN_AREA_SHARE = 0.002
"""Components smaller than this share of the frame are specks, never the lesion."""


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (1979) of ``values``: the cut that maximises the between-class
    variance of the two groups it makes. Returns a value such that ``values > t`` is the
    upper class; for constant input, that value itself (nothing lies above it)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("no values to threshold")
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo
    # The histogram by bincount of the bin indices: np.histogram costs 4x as much in WASM.
    width = (hi - lo) / bins
    index = np.minimum(((v - lo) / width).astype(np.intp), bins - 1)
    hist = np.bincount(index, minlength=bins).astype(np.float64)
    centres = lo + (np.arange(bins) + 0.5) * width
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    m0 = s0 / np.maximum(w0, 1.0)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1.0)
    between = w0 * w1 * (m0 - m1) ** 2
    k = int(np.argmax(between[:-1]))
    return lo + (k + 1) * width


def ring_mask(shape: tuple[int, int]) -> np.ndarray:
    """The frame's outer ring (:data:`RING` of the short side wide), where the skin is."""
    h, w = shape
    r = max(1, round(RING * min(h, w)))
    ring = np.ones((h, w), dtype=bool)
    ring[r:-r, r:-r] = False
    return ring


def lesion_channel(cc: np.ndarray) -> np.ndarray:
    """Per-pixel "how unlike the skin" (float32, HxW) of the colour-constant image ``cc``.

    Distance in RGB from the skin colour (median of the outer ring), counted in full where
    the pixel is darker than the skin and at half weight where it is lighter, so glare and
    pale patches weigh less than pigment.
    """
    x = cc.astype(np.float32)
    skin = np.median(x[ring_mask(x.shape[:2])], axis=0)
    d0, d1, d2 = (x[:, :, k] - skin[k] for k in range(3))
    dist = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
    dist[(d0 + d1 + d2) > 0] *= 0.5
    return dist


def _shift_and(mask: np.ndarray, radius: int, axis: int) -> np.ndarray:
    out = mask.copy()
    n = mask.shape[axis]
    for d in range(1, min(radius, n - 1) + 1):
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis], b[axis] = slice(0, n - d), slice(d, n)
        out[tuple(a)] &= mask[tuple(b)]
        out[tuple(b)] &= mask[tuple(a)]
    return out


def erode(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """Binary erosion by a ``(2r+1)`` square (separable: rows then columns); outside the
    frame counts as set, so a lesion touching the edge is not eaten from there."""
    return _shift_and(_shift_and(mask, radius, 0), radius, 1)


def dilate(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """Binary dilation by a ``(2r+1)`` square (the dual of :func:`erode`)."""
    return ~erode(~mask, radius)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The horizontal runs of set pixels: ``(rows, starts, ends)`` (ends exclusive), in
    row-major order."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    rows, starts = np.nonzero(d == 1)
    _, ends = np.nonzero(d == -1)
    return rows, starts, ends


def components(mask: np.ndarray, diagonal: bool = True) -> tuple[np.ndarray, ...]:
    """Connected components of ``mask`` as run lists: ``(rows, starts, ends, labels)`` with
    ``labels`` numbered ``0..n-1``. ``diagonal``: 8-connectivity (else 4).

    Two runs in adjacent rows join when their columns overlap (or touch diagonally); a
    two-pointer sweep per pair of rows and a union-find over runs keep it linear in runs.
    """
    rows, starts, ends = runs(mask)
    n = len(rows)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    reach = 1 if diagonal else 0
    row_start = np.searchsorted(rows, np.arange(mask.shape[0] + 1)).tolist()
    s_list, e_list = starts.tolist(), ends.tolist()
    for y in range(1, mask.shape[0]):
        i, i_end = row_start[y - 1], row_start[y]
        j, j_end = row_start[y], row_start[y + 1]
        while i < i_end and j < j_end:
            if s_list[i] < e_list[j] + reach and s_list[j] < e_list[i] + reach:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            if e_list[i] < e_list[j]:
                i += 1
            else:
                j += 1
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    _, labels = np.unique(roots, return_inverse=True)
    return rows, starts, ends, labels.reshape(-1)


def paint(
    shape: tuple[int, int], rows: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """A boolean mask with the given runs set (vectorised: +1 at starts, -1 at ends, cumsum)."""
    h, w = shape
    acc = np.zeros((h, w + 1), dtype=np.int32)
    np.add.at(acc, (rows, starts), 1)
    np.add.at(acc, (rows, ends), -1)
    return np.cumsum(acc, axis=1)[:, :w] > 0


def nearest_to_centre(mask: np.ndarray, min_pixels: int = 1) -> np.ndarray:
    """The 8-connected component of ``mask`` that comes nearest the frame's centre (of those
    with at least ``min_pixels``; ties: the larger); empty when there is none."""
    rows, starts, ends, labels = components(mask)
    if len(rows) == 0:
        return np.zeros_like(mask)
    h, w = mask.shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    nearest_x = np.clip(cx, starts, ends - 1)
    dist = np.hypot(rows - cy, nearest_x - cx)
    count = labels.max() + 1
    best = np.full(count, np.inf)
    np.minimum.at(best, labels, dist)
    size = np.bincount(labels, weights=ends - starts, minlength=count)
    best[size < min_pixels] = np.inf
    if not np.isfinite(best).any():
        return np.zeros_like(mask)
    order = np.lexsort((-size, best))
    keep = labels == order[0]
    return paint(mask.shape, rows[keep], starts[keep], ends[keep])


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every background region that does not reach the frame's edge set
    (background is 4-connected, the dual of the foreground's 8)."""
    rows, starts, ends, labels = components(~mask, diagonal=False)
    if len(rows) == 0:
        return mask.copy()
    h, w = mask.shape
    edge = (rows == 0) | (rows == h - 1) | (starts == 0) | (ends == w)
    outside = np.zeros(labels.max() + 1, dtype=bool)
    outside[labels[edge]] = True
    hole = ~outside[labels]
    return mask | paint(mask.shape, rows[hole], starts[hole], ends[hole])


def lesion_mask(rgb: np.ndarray) -> np.ndarray:
    """The lesion's pixels in a ``uint8`` HxWx3 crop (bool HxW); all ``False`` when the
    frame shows no lesion (see the module docstring for the steps)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected HxWx3 RGB, got shape {rgb.shape}")
    return constant_mask(shades_of_gray(rgb))


def constant_mask(cc: np.ndarray) -> np.ndarray:
    """:func:`lesion_mask` of an image already colour-corrected (``shades_of_gray``), for
    callers that need the corrected image too (:func:`skinlens.change.measure`)."""
    channel = lesion_channel(cc)
    t = otsu_threshold(channel)
    raw = channel > t
    if not raw.any() or raw.all():
        return np.zeros(channel.shape, dtype=bool)
    if float(channel[raw].mean() - channel[~raw].mean()) < MIN_CONTRAST:
        return np.zeros(channel.shape, dtype=bool)
    cleaned = dilate(erode(raw, OPEN_RADIUS), OPEN_RADIUS)
    cleaned = erode(dilate(cleaned))
    min_pixels = max(1, round(MIN_AREA_SHARE * channel.size))
    return fill_holes(nearest_to_centre(cleaned, min_pixels))


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` of the set pixels (bottom and right exclusive), or
    ``None`` when none is set."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return None
    return int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1


def lesion_box(mask: np.ndarray, share: float) -> Box | None:
    """A square ``(left, top, right, bottom)`` in ``mask``'s pixel coordinates, centred on the
    lesion's bounding box, whose side is such that the lesion's larger extent fills ``share``
    of it. ``None`` for an empty mask.

    Centred on the bounding box rather than the centroid so the whole lesion stays inside
    for any ``share <= 1`` however lopsided it is. The box may reach past the frame; the
    caller, which knows the whole photo, clamps or shifts it.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError("share must be in (0, 1]")
    bounds = bounding_box(mask)
    if bounds is None:
        return None
    top, bottom, left, right = bounds
    side = max(bottom - top, right - left) / share
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    return (cx - side / 2.0, cy - side / 2.0, cx + side / 2.0, cy + side / 2.0)
