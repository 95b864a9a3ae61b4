"""Sample media for a first run when no photos are at hand (`scripts/demo` on a fresh machine).

`packaged_samples()` finds real photos that installed packages ship inside their wheels: scikit-image's
`skimage/data` (a cat, a cup of coffee, the astronaut Eileen Collins, a motorcycle, a page of text) and
Matplotlib's `mpl-data/sample_data/grace_hopper.jpg` (the `samples` extra installs both; the demo does, nothing
else needs them). `fill()` copies them, adds a second picture of Grace Hopper (her portrait mirrored and smaller,
beside the cat, so a person enrolled from one file is found in another) and a file that is not a picture (to show
how a failure is reported). Without those packages it draws a few pictures with Pillow instead
(`make_samples()`: a page of text, a landscape, shapes), which show the pipeline but give the models little to
recognise. Nothing is downloaded.

    python -m mediaindex.sample_media DIR     fill DIR, print what was written
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

# (package, path inside it, name to copy as): real photos some packages carry in their wheels
# (checked in scikit-image 0.26.0's and Matplotlib 3.11.2's wheels: most of skimage.data is downloaded on first
# use, these few files are inside the wheel)
_PACKAGED = (
    ("skimage", "data/chelsea.png", "cat_chelsea.png"),
    ("skimage", "data/coffee.png", "coffee.png"),
    ("skimage", "data/astronaut.png", "astronaut_eileen_collins.png"),
    ("skimage", "data/motorcycle_left.png", "motorcycle.png"),
    ("skimage", "data/page.png", "page_of_text.png"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "grace_hopper.jpg"),
)
# the person the demo enrols from one file and finds in another
PORTRAIT, SECOND_PICTURE, PERSON = "grace_hopper.jpg", "grace_hopper_with_chelsea.jpg", "Grace Hopper"


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


def second_picture(portrait: Path, other: Path, target: Path) -> Path:
    """Another file showing the person of `portrait`: the portrait mirrored and at 80 %, beside another photo."""
    from PIL import Image, ImageOps

    with Image.open(portrait) as a, Image.open(other) as b:
        person, beside = ImageOps.mirror(a.convert("RGB")), b.convert("RGB")
        person = person.resize((round(person.width * 0.8), round(person.height * 0.8)))
        beside = beside.resize((round(beside.width * 1.1), round(beside.height * 1.1)))
        canvas = Image.new("RGB", (max(960, person.width + beside.width + 90), max(person.height, beside.height) + 80),
                           (236, 232, 224))
        canvas.paste(person, (30, 40))
        canvas.paste(beside, (person.width + 60, 40 + (person.height - beside.height) // 2))
        canvas.save(target, quality=88)
    return target


def fill(folder: Path, packaged: list[tuple[Path, str]] | None = None) -> list[Path]:
    """The packaged photos and a second picture of the portrait in `folder`, or the drawn samples when no package
    ships any; and one file that is not a picture."""
    folder.mkdir(parents=True, exist_ok=True)
    packaged = packaged_samples() if packaged is None else packaged
    written = []
    for path, name in packaged:
        target = folder / name
        shutil.copyfile(path, target)
        written.append(target)
    names = {p.name: p for p in written}
    if PORTRAIT in names and "cat_chelsea.png" in names:
        written.append(second_picture(names[PORTRAIT], names["cat_chelsea.png"], folder / SECOND_PICTURE))
    if not written:
        return make_samples(folder)
    written.append(folder / "notes.txt")
    written[-1].write_text("Not a picture: indexing records it as failed, with the reason.\n", encoding="utf-8")
    return written


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
