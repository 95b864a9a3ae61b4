"""A phone-like test library for the text gate: real photos, and generated pictures that hold text.

    make_library(folder) -> list[Item]

- the 40 labelled photos of ../shared/data/images as they are (about 500 x 375 JPEGs; a few hold text: the slot
  machine, the moving van's lettering);
- 10 of them scaled up to 12 megapixels (4032 x 3024 JPEG, quality 90), as a phone camera writes them, with a
  phone's camera EXIF;
- screenshots: PNGs at phone-screen sizes (1170 x 2532, 1080 x 2400, 1284 x 2778) with lines of text, as a chat, a
  settings page and an article;
- a receipt screenshot (an e-mailed receipt, PNG at 1170 x 2532);
- receipts and a document photographed by a phone: a white paper with printed lines on a grey table, a little
  rotated, 3024 x 4032 JPEG with camera EXIF;
- signs: a coloured board with large words pasted onto three of the real photos (JPEG, camera EXIF).

Each generated picture knows the words it holds (`Item.words`); a real photo's words are what OCR reads on it. The
text is drawn with DejaVu Sans when the system has it, else Pillow's own scalable font. Nothing is random: the same
call makes the same files, named as a phone names them (IMG_0412.png, Screenshot_2026-11-21.png), so that a search finds them
by what they hold, not by their names.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDIAINDEX_TEST_DATA", ROOT.parent / "shared" / "data"))
FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf")

UPSCALED = ("n09332890_lakeside", "n02793495_barn", "n03160309_dam", "n02110185_Siberian_husky",
            "n07747607_orange", "n03445924_golfcart", "n04562935_water_tower", "n02860847_bobsled",
            "n03042490_cliff_dwelling", "n04399382_teddy")
SIGN_PHOTOS = ("n04326547_stone_wall", "n02793495_barn", "n03160309_dam")


@dataclass
class Item:
    path: Path
    kind: str  # photo, photo_12mp, screenshot, receipt_screenshot, receipt_photo, document_photo, sign_photo
    words: tuple[str, ...] = field(default_factory=tuple)  # words it holds (generated pictures only)

    @property
    def generated_text(self) -> bool:
        return bool(self.words)


def font(size: int):
    from PIL import ImageFont

    for path in FONT_FILES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def camera_exif(make: str = "Apple", model: str = "iPhone 13") -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    return exif.tobytes()


def _save(image, path: Path, exif: bytes | None = None, quality: int = 90) -> Path:
    if path.suffix == ".png":
        image.save(path, "PNG")
    else:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
        path.write_bytes(buf.getvalue())
    return path


def _lines_image(size: tuple[int, int], lines: list[tuple[str, int]], background=(255, 255, 255), ink=(20, 20, 20),
                 margin: int = 60, top: int = 160, bars: bool = True):
    """A screen: a status bar, then each (text, font size) line under the previous one."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    if bars:
        draw.rectangle((0, 0, size[0], top - 40), fill=(242, 242, 247))
        draw.text((margin, 40), "9:41", font=font(44), fill=ink)
    y = top
    for text, px in lines:
        draw.text((margin, y), text, font=font(px), fill=ink)
        y += int(px * 1.6)
    return image


CHAT = [("Messages", 64), ("Anna", 52), ("Are we still on for dinner tonight?", 44), ("Yes! 7:30 at the pizzeria", 44),
        ("Great, I booked a table for four", 44), ("Bring the tickets for the concert", 44),
        ("They are in my email, will print them", 44), ("See you there", 44)]
SETTINGS = [("Settings", 72), ("Airplane Mode", 48), ("Wi-Fi", 48), ("Bluetooth", 48), ("Mobile Data", 48),
            ("Notifications", 48), ("Sounds and Haptics", 48), ("Battery", 48), ("Privacy and Security", 48),
            ("General", 48), ("Display and Brightness", 48)]
ARTICLE = [("Weather", 64), ("Tomorrow: sunny spells, 18 degrees", 44), ("Light wind from the south west", 44),
           ("Rain expected on Thursday evening", 44), ("Pollen count high in the afternoon", 44),
           ("Sunrise 06:12, sunset 20:47", 44), ("Air quality good", 44)]
RECEIPT = [("RECEIPT", 72), ("Corner Market", 48), ("Order 20931", 40), ("Milk 1L            1.25", 44),
           ("Bread              2.40", 44), ("Apples 1kg         3.10", 44), ("Coffee beans       8.90", 44),
           ("Subtotal          15.65", 44), ("Tax                 1.25", 44), ("TOTAL             16.90", 56),
           ("Paid by card", 40), ("Thank you for shopping", 40)]
PAPER_RECEIPT = [("RECEIPT", 80), ("Hardware Store", 56), ("Screws box         4.99", 52), ("Paint 2L          18.50", 52),
                 ("Brush               3.20", 52), ("TOTAL             26.69", 64), ("Thank you", 52)]
LETTER = [("Invoice", 80), ("Date: 12 March 2026", 48), ("Dear customer,", 48),
          ("Please find enclosed the invoice for", 48), ("the repair of your heating system.", 48),
          ("Amount due within thirty days.", 48), ("Kind regards,", 48), ("The Service Team", 48)]
SIGNS = (("PARKING", "EXIT"), ("OPEN", "DAILY"), ("DANGER", "DEEP WATER"))


def _paper_photo(lines: list[tuple[str, int]], angle: float, paper: tuple[int, int]):
    """A phone photo of a printed paper: the page on a grey table, turned a little, 3024 x 4032."""
    from PIL import Image, ImageFilter

    page = _lines_image(paper, lines, background=(250, 248, 240), margin=90, top=120, bars=False)
    page = page.rotate(angle, expand=True, fillcolor=(110, 105, 100), resample=Image.BICUBIC)
    table = Image.new("RGB", (3024, 4032), (110, 105, 100))
    table.paste(page, ((3024 - page.width) // 2, (4032 - page.height) // 2))
    return table.filter(ImageFilter.GaussianBlur(1.2))


def _sign_photo(source: Path, words: tuple[str, ...]):
    """A real photo at 12 megapixels with a board of large words on it."""
    from PIL import Image, ImageDraw

    photo = Image.open(source).convert("RGB").resize((4032, 3024), Image.BICUBIC)
    board = Image.new("RGB", (1500, 700), (20, 70, 160))
    draw = ImageDraw.Draw(board)
    for i, word in enumerate(words):
        draw.text((90, 80 + i * 300), word, font=font(220), fill=(255, 255, 255))
    photo.paste(board.rotate(3, expand=True, fillcolor=(20, 70, 160)), (1200, 900))
    return photo


def make_library(folder: Path) -> list[Item]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    for source in sorted((DATA / "images").iterdir()):
        target = folder / source.name
        target.write_bytes(source.read_bytes())
        items.append(Item(target, "photo"))
    exif = camera_exif()
    for stem in UPSCALED:
        source = next((DATA / "images").glob(stem + ".*"))
        big = Image.open(source).convert("RGB").resize((4032, 3024), Image.BICUBIC)
        items.append(Item(_save(big, folder / f"IMG_{stem}_12mp.jpg", exif), "photo_12mp"))
    for number, size, lines in ((1, (1170, 2532), CHAT), (2, (1080, 2400), SETTINGS), (3, (1284, 2778), ARTICLE)):
        words = tuple(w.lower() for text, _ in lines[:3] for w in text.split() if w.isalpha())
        screenshot = _save(_lines_image(size, lines), folder / f"Screenshot_2026-11-{20 + number}.png")
        items.append(Item(screenshot, "screenshot", words))
    items.append(Item(_save(_lines_image((1170, 2532), RECEIPT), folder / "IMG_0412.png"), "receipt_screenshot",
                      ("receipt", "total")))
    for number, lines, angle in ((413, PAPER_RECEIPT, 4.0), (414, RECEIPT, -3.0)):
        image = _paper_photo(lines, angle, (1300, 1900))
        items.append(Item(_save(image, folder / f"IMG_0{number}.jpg", exif), "receipt_photo", ("receipt", "total")))
    items.append(Item(_save(_paper_photo(LETTER, 2.0, (2000, 2600)), folder / "IMG_0415.jpg", exif),
                      "document_photo", ("invoice", "customer")))
    for number, (stem, words) in enumerate(zip(SIGN_PHOTOS, SIGNS), start=416):
        source = next((DATA / "images").glob(stem + ".*"))
        items.append(Item(_save(_sign_photo(source, words), folder / f"IMG_0{number}.jpg", exif), "sign_photo",
                          tuple(w.lower() for w in " ".join(words).split())))
    return items
