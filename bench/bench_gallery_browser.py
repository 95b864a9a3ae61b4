"""The gallery's first page in a real browser: 50 12 MP phone photos, as JPEG and as HEIC, opened in headless
Chromium (Debian's /usr/bin/chromium driven by Playwright), with the thumbnails indexing left against thumbnails
made on demand, and the viewer: the first photo opened, the next one stepped to.

    python bench/bench_gallery_browser.py [--photos 50] [--json FILE]

The photos are ../shared/data/images scaled to 4032 px (two JPEG qualities, 90 and 80, as many as `--photos` asks;
HEIC: a grid of 512 px tiles, x265's ultrafast preset), indexed by `mediaindex index` (the local models, default
features less text) into a fresh home, then served by `mediaindex serve`. Each figure is one page load in a new
browser profile (the browser's cache empty), timed from navigation until every thumbnail on the screen has loaded
and decoded (`img.complete` with a natural width), read in the page:

- *first screen*: a 1440x900 window, the thumbnails it shows;
- *whole page*: a window tall enough to show every photo at once (so none waits for scrolling);
- *viewer*: the first photo of the gallery clicked: until something of it shows (the thumbnail standing in) and
  until its display-size preview has loaded, timed in the page from the click; then, once the look-ahead has come,
  the arrow key to the next photo, until its preview has loaded (the viewer asks for the previews either side
  ahead);
- *rendered on demand*: a thumbnail and a preview made from 10 of the files as the API makes them (median), in this
  process, with no server or browser.

Each is taken with the thumbnails that indexing left (`MEDIAINDEX_HOME/thumbnails`) and again with that cache
emptied, which is what every first visit cost before indexing kept them. Previews are made on demand in both
(indexing does not keep them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from bench_api import SHARED, index_folder, start_server  # noqa: E402 - after the path above
from bench_throughput import make_photos  # noqa: E402
from tests.web.test_browser import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402 - the flags the browser tests use

# every tile on the screen loaded and decoded; 0 until then (the page fills the section after its search answers)
SCREEN_LOADED = """() => {
  if (!document.querySelector('.month[data-loaded]')) return 0;
  const shown = [...document.querySelectorAll('.tile img')].filter((img) => {
    const r = img.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
  });
  return shown.length && shown.every((img) => img.complete && img.naturalWidth > 0) ? shown.length : 0;
}"""
PREVIEW_LOADED = "() => { const img = document.querySelector('#photo'); " \
                 "return img && img.complete && img.naturalWidth > 0 ? img.naturalWidth : 0; }"
# something of the photo on the screen: its stand-in (the thumbnail) or the preview itself
PHOTO_SHOWN = "() => [document.querySelector('#photo-stand-in'), document.querySelector('#photo')]" \
              ".some((img) => img && img.complete && img.naturalWidth > 0) ? 1 : 0"


def new_context(playwright: Any, profile: Path, viewport: tuple[int, int]) -> Any:
    """A browser with a new, empty profile: nothing in its cache."""
    shutil.rmtree(profile, ignore_errors=True)
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": viewport[0], "height": viewport[1]})


def wait(page: Any, loaded: str) -> Any:
    return page.wait_for_function(loaded, polling="raf", timeout=600_000).json_value()


def timed_load(playwright: Any, profile: Path, url: str, viewport: tuple[int, int], loaded: str) -> dict[str, Any]:
    """One navigation in a new browser profile: seconds until `loaded` (a page function) answers non-zero."""
    context = new_context(playwright, profile, viewport)
    try:
        page = context.new_page()
        page.goto("about:blank")
        started = time.perf_counter()
        page.goto(url)
        answer = wait(page, loaded)
        return {"s": round(time.perf_counter() - started, 3), "count": answer}
    finally:
        context.close()


def timed_viewer(playwright: Any, profile: Path, url: str) -> dict[str, Any]:
    """The gallery's first photo opened by a click, then the next one by the arrow key, as a person does. Timed in
    the page (from the click's or the key's event to the first animation frame that shows the photo), so the
    driver's own work does not count: until something of the photo shows (the thumbnail standing in) and until its
    preview has loaded; then, once the next photo's preview asked for ahead has come (a person looks at a photo a
    moment), from the arrow key until the next photo's preview has loaded."""
    context = new_context(playwright, profile, (1440, 900))
    try:
        page = context.new_page()
        page.goto(url)
        wait(page, SCREEN_LOADED)
        page.evaluate("() => { for (const kind of ['click', 'keydown']) document.addEventListener(kind, "
                      "() => { window[kind + 'At'] = performance.now(); }, { capture: true, once: true }); }")
        page.locator(".tile a").first.click()
        shown = wait(page, f"() => ({PHOTO_SHOWN})() ? performance.now() : 0") - page.evaluate("window.clickAt")
        sharp = wait(page, f"() => ({PREVIEW_LOADED})() ? performance.now() : 0") - page.evaluate("window.clickAt")
        width = wait(page, PREVIEW_LOADED)
        page.wait_for_selector("#photo[data-ahead]", state="attached")
        after = (page.get_attribute("#photo", "data-ahead") or "").split()[0]  # the next photo's id
        # a person looks at a photo a moment before stepping on: the next preview asked for ahead has come
        wait(page, f"() => performance.getEntriesByType('resource')"
                   f".some((e) => e.name.endsWith('/{after}/preview')) ? 1 : 0")
        title = page.inner_text("#detail-title")
        page.keyboard.press("ArrowRight")
        moved = ("(title) => { const now = document.querySelector('#detail-title'); "
                 "return now && now.textContent !== title; }")
        page.wait_for_function(moved, arg=title, polling="raf")
        step = wait(page, f"() => ({PREVIEW_LOADED})() ? performance.now() : 0") - page.evaluate("window.keydownAt")
        return {"shown_s": round(shown / 1000, 3), "preview_s": round(sharp / 1000, 3), "preview_px": width,
                "next_preview_s": round(step / 1000, 3)}
    finally:
        context.close()


def visit(home: Path, kept: Path | None, tall: int, work: Path) -> dict[str, Any]:
    """The three loads, each with the server's rendering cache as indexing left it (`kept`: a copy of it), or
    empty (None): what one load rendered on demand is not there for the next."""
    from playwright.sync_api import sync_playwright

    def reset() -> None:
        shutil.rmtree(home / "thumbnails", ignore_errors=True)
        if kept is not None:
            shutil.copytree(kept, home / "thumbnails")

    def load(url: str, viewport: tuple[int, int], loaded: str) -> dict[str, Any]:
        reset()
        return timed_load(p, work / "profile", url, viewport, loaded)

    process, port, _ = start_server(home)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            screen = load(base + "/", (1440, 900), SCREEN_LOADED)
            whole = load(base + "/", (1440, tall), SCREEN_LOADED)
            reset()
            viewer = timed_viewer(p, work / "profile", base + "/")
        return {"first_screen": screen, "whole_page": whole, "viewer": viewer}
    finally:
        process.terminate()
        process.wait(timeout=30)


def render_ms(paths: list[Path]) -> dict[str, float]:
    """Milliseconds to render a thumbnail and a preview from each file, as the API does on demand (median)."""
    from mediaindex.media.picture import register_heif
    from mediaindex.media.thumbnails import render_preview, render_thumbnail

    register_heif()
    times: dict[str, list[float]] = {"thumbnail": [], "preview": []}
    for path in paths:
        data = path.read_bytes()
        for kind, render in (("thumbnail", render_thumbnail), ("preview", render_preview)):
            started = time.perf_counter()
            render(data)
            times[kind].append((time.perf_counter() - started) * 1000)
    return {f"{kind}_ms": round(statistics.median(values), 1) for kind, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=50, help="photos per format (the issue asks for 50)")
    parser.add_argument("--tall", type=int, default=4000, help="window height that shows every photo at once")
    parser.add_argument("--formats", default="jpeg,heic")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"error: the test media are missing: {SHARED}", file=sys.stderr)
        return 1
    if not Path(CHROMIUM).is_file():
        print(f"error: Chromium not found at {CHROMIUM}: run scripts/setup-system", file=sys.stderr)
        return 1
    per_quality = -(-args.photos // 2)
    work = Path(tempfile.mkdtemp(prefix="bench-gallery-browser-"))
    result: dict[str, Any] = {"photos": args.photos, "chromium": CHROMIUM, "window": "1440x900",
                              "tall_window": f"1440x{args.tall}"}
    try:
        for fmt in args.formats.split(","):
            home = work / fmt
            (home / "photos").mkdir(parents=True)
            made = make_photos(home / "photos", [90, 80], phone=True, heic=fmt == "heic", count=per_quality)
            for extra in made[args.photos:]:
                extra.unlink()
            indexed_s = index_folder(home / "photos", home)
            kept = work / f"{fmt}-kept-thumbnails"
            shutil.copytree(home / "thumbnails", kept)
            at_index = visit(home, kept, args.tall, work)
            on_demand = visit(home, None, args.tall, work)
            sample = sorted((home / "photos").iterdir())[:10]
            rendering = render_ms(sample)
            result[fmt] = {"index_s": round(indexed_s, 2), "with_index_time_thumbnails": at_index,
                           "thumbnails_on_demand": on_demand, "rendered_on_demand": rendering}
            print(f"{fmt}: made on demand, a thumbnail takes {rendering['thumbnail_ms']:.0f} ms, a preview "
                  f"{rendering['preview_ms']:.0f} ms (median of {len(sample)} photos)")
            for name, figures in (("thumbnails from indexing", at_index), ("thumbnails on demand", on_demand)):
                viewer = figures["viewer"]
                print(f"{fmt}, {name}: first screen {figures['first_screen']['s']:.2f} s "
                      f"({figures['first_screen']['count']} photos), whole page {figures['whole_page']['s']:.2f} s "
                      f"({figures['whole_page']['count']} photos); viewer: shown {viewer['shown_s']:.2f} s, preview "
                      f"({viewer['preview_px']} px) {viewer['preview_s']:.2f} s, next photo's preview "
                      f"{viewer['next_preview_s']:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
