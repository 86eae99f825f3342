"""Generate the PWA icons in site/icons/ (run once; the PNGs are committed).

python tools/make_icons.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "site" / "icons"
BG = (14, 116, 144)  # theme colour #0e7490
RING = (240, 249, 255)
SPOT = (146, 64, 14)


SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<rect width="64" height="64" rx="14" fill="#0e7490"/>
<circle cx="29" cy="29" r="17" fill="none" stroke="#f0f9ff" stroke-width="4"/>
<ellipse cx="28" cy="30" rx="7" ry="6.5" fill="#92400e"/>
<ellipse cx="31" cy="27" rx="5.5" ry="5" fill="#92400e"/>
<path d="M41 41l11 11" stroke="#f0f9ff" stroke-width="6" stroke-linecap="round"/>
</svg>
"""


def draw(size: int, *, maskable: bool, rounded: bool) -> Image.Image:
    scale = 4  # supersample for smooth edges
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if rounded:
        d.rounded_rectangle((0, 0, s - 1, s - 1), radius=int(s * 0.22), fill=BG)
    else:
        d.rectangle((0, 0, s, s), fill=BG)
    # maskable icons keep their content inside the central 80 % safe zone
    content = 0.56 if maskable else 0.72
    r = s * content / 2
    c = s / 2
    w = max(2, int(s * 0.06))
    d.ellipse((c - r, c - r, c + r, c + r), outline=RING, width=w)  # the lens
    h = r * 0.38  # the lesion: an irregular spot
    d.ellipse((c - h * 1.1, c - h * 0.9, c + h * 0.9, c + h * 1.05), fill=SPOT)
    d.ellipse((c - h * 0.35, c - h * 1.1, c + h * 1.2, c + h * 0.4), fill=SPOT)
    # handle of the magnifier (not on maskable: it would leave the safe zone)
    if not maskable:
        a = 0.7071
        x0, y0 = c + r * a, c + r * a
        d.line((x0, y0, x0 + r * 0.45, y0 + r * 0.45), fill=RING, width=int(w * 1.6))
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw(192, maskable=False, rounded=True).save(OUT / "icon-192.png", optimize=True)
    draw(512, maskable=False, rounded=True).save(OUT / "icon-512.png", optimize=True)
    draw(512, maskable=True, rounded=False).save(OUT / "icon-maskable-512.png", optimize=True)
    draw(180, maskable=False, rounded=False).convert("RGB").save(
        OUT / "apple-touch-icon-180.png", optimize=True
    )
    draw(32, maskable=False, rounded=True).save(OUT / "favicon-32.png", optimize=True)
    (OUT / "icon.svg").write_text(SVG)
    for p in sorted(OUT.glob("*.*")):
        print(p.relative_to(OUT.parent.parent), p.stat().st_size)


if __name__ == "__main__":
    main()
