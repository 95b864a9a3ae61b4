"""Sample media for a first run when no photos are at hand (`scripts/demo` on a fresh machine).

`packaged_samples()` finds real photos that installed packages happen to ship (scikit-image's cat, coffee and
astronaut, Matplotlib's portrait of Grace Hopper); `make_samples()` draws a few pictures with Pillow on the spot:
a page of text (for text search), a landscape, shapes, and one file that is not a picture (to show how a failure
is reported). Nothing is downloaded.

    python -m mediaindex.sample_media DIR     fill DIR with both, print what was written
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

# (package, path inside it, name to copy as): real photos some packages carry in their wheels
_PACKAGED = (
    ("skimage", "data/chelsea.png", "cat_chelsea.png"),
    ("skimage", "data/coffee.png", "coffee.png"),
    ("skimage", "data/astronaut.png", "astronaut_eileen_collins.png"),
    ("skimage", "data/rocket.jpg", "rocket.jpg"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "grace_hopper.jpg"),
)


def packaged_samples() -> list[tuple[Path, str]]:
    """(file, suggested name) for each sample photo an installed package ships; packages are located, not
    imported (importing them can be slow)."""
    found = []
    for package, inner, name in _PACKAGED:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            path = Path(location) / inner
            if path.is_file():
                found.append((path, name))
                break
    return found


def make_samples(folder: Path) -> list[Path]:
    """Draw a few pictures into `folder` (created if needed); returns the files written."""
    from PIL import Image, ImageDraw, ImageFont

    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def font(size: int):
        try:
            return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable font ships with Pillow
        except TypeError:
            return ImageFont.load_default()

    page = Image.new("RGB", (1000, 700), "white")
    draw = ImageDraw.Draw(page)
    draw.text((60, 60), "INVOICE 2024-117", fill="black", font=font(72))
    for i, line in enumerate(["Coffee beans   2 kg   24.00", "Paper towels   6      9.50", "Total          33.50"]):
        draw.text((60, 220 + i * 90), line, fill="black", font=font(48))
    written.append(folder / "invoice.png")
    page.save(written[-1])

    landscape = Image.new("RGB", (960, 640))
    draw = ImageDraw.Draw(landscape)
    for y in range(640):  # sky fading into a lake
        blue = (110 + y // 6, 160 + y // 8, 235) if y < 380 else (30, 80 + (y - 380) // 6, 120)
        draw.line([(0, y), (960, y)], fill=blue)
    draw.polygon([(0, 380), (220, 180), (420, 380)], fill=(90, 100, 95))
    draw.polygon([(300, 380), (560, 120), (820, 380)], fill=(70, 80, 80))
    draw.ellipse((760, 60, 860, 160), fill=(255, 230, 120))
    written.append(folder / "lake.jpg")
    landscape.save(written[-1], quality=90)

    shapes = Image.new("RGB", (800, 600), (245, 240, 230))
    draw = ImageDraw.Draw(shapes)
    for i, colour in enumerate(["red", "orange", "gold", "green", "blue"]):
        draw.ellipse((40 + i * 150, 220, 170 + i * 150, 350), fill=colour, outline="black", width=4)
    written.append(folder / "shapes.png")
    shapes.save(written[-1])

    written.append(folder / "notes.txt")
    written[-1].write_text("Not a picture: indexing records it as failed, with the reason.\n", encoding="utf-8")
    return written


def fill(folder: Path) -> list[Path]:
    """Packaged photos (when there are any) and the drawn samples, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, name in packaged_samples():
        target = folder / name
        shutil.copyfile(path, target)
        written.append(target)
    return written + make_samples(folder)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m mediaindex.sample_media DIR", file=sys.stderr)
        return 2
    for path in fill(Path(argv[0]).expanduser()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
