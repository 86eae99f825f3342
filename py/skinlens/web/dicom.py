"""The DICOM panel under the photo result (``#dicom-panel``): the frame picker of a
multi-frame file, and the viewer of a grey-scale image with its VOI window (the file's,
common CT presets, or the centre/width sliders) before it is declined.

The window only changes what is shown; nothing here is classified (skinlens classifies
colour photos). ``#dicom-panel[data-centre][data-width]`` give the window shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from skinlens.dicom import PRESETS, Monochrome
from skinlens.photo import PhotoResult
from skinlens.web import browser


class DicomView:
    """Binds ``#dicom-frame``, ``#dicom-preset``, ``#dicom-centre``, ``#dicom-width``."""

    def __init__(self, pick_frame: Callable[[int], None]) -> None:
        self.pick_frame = pick_frame
        self.mono: Monochrome | None = None

    def bind(self) -> None:
        frame, preset = browser.el("dicom-frame"), browser.el("dicom-preset")
        browser.on(frame, "change", lambda ev: self.pick_frame(int(frame.value)))
        browser.on(preset, "change", lambda ev: self.apply_preset(str(preset.value)))
        for slider in ("dicom-centre", "dicom-width"):
            browser.on(browser.el(slider), "input", lambda ev: self.render())

    def show(self, r: PhotoResult) -> None:
        """The panel for a DICOM result (hidden for anything else)."""
        panel = browser.el("dicom-panel")
        panel.hidden = r.dicom is None
        if r.dicom is None:
            self.mono = None
            return
        field, frame = browser.el("dicom-frame-field"), browser.el("dicom-frame")
        field.hidden = r.dicom.frames < 2
        if r.dicom.frames > 1:
            frame.innerHTML = "".join(
                f'<option value="{i}">{i + 1}</option>' for i in range(r.dicom.frames)
            )
            frame.value = str(r.dicom.frame)
        self.mono = r.monochrome
        browser.el("dicom-viewer").hidden = self.mono is None
        if self.mono is not None:
            self.set_ranges(self.mono)
            browser.el("dicom-preset").value = "file"
            self.apply_preset("file")

    def set_ranges(self, mono: Monochrome) -> None:
        """Slider ranges from the values (centre) and their span (width), the file's window
        included."""
        lo, hi = float(mono.values.min()), float(mono.values.max())
        centre, width = mono.window
        lo, hi = min(lo, centre), max(hi, centre)
        browser.set_attrs(
            browser.el("dicom-centre"), {"min": f"{lo:g}", "max": f"{hi:g}", "step": "1"}
        )
        span = max(hi - lo, width, 2.0)
        browser.set_attrs(browser.el("dicom-width"), {"min": "1", "max": f"{span:g}", "step": "1"})

    def apply_preset(self, name: str) -> None:
        if self.mono is None:
            return
        centre, width = self.mono.window if name == "file" else PRESETS[name]
        browser.el("dicom-centre").value = f"{centre:g}"
        browser.el("dicom-width").value = f"{width:g}"
        self.render()

    def render(self) -> None:
        """The grey image through the window the sliders show."""
        if self.mono is None:
            return
        centre = float(browser.el("dicom-centre").value)
        width = float(browser.el("dicom-width").value)
        grey = self.mono.render(centre, width)
        browser.draw_rgb(browser.el("dicom-canvas"), np.repeat(grey[..., None], 3, axis=2))
        panel: Any = browser.el("dicom-panel")
        browser.set_attrs(panel, {"data-centre": f"{centre:g}", "data-width": f"{width:g}"})
