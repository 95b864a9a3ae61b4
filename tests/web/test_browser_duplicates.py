"""The duplicates page and the viewer's "Similar photos" in headless Chromium, on a library with edited copies
(conftest.build_copies_library): groups side by side with the keeper marked, moving the others to the trash and
undoing it with the keyboard alone (writes allowed), no edit controls when read-only, the similar strip reached by
the keyboard, and axe-core's WCAG A/AA rules on both. Screenshots: mediaindex-duplicates*.png in
$MEDIAINDEX_SCREENSHOTS (or /tmp). Every wait is on a condition of the page, never a sleep."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from mediaindex.entrypoints.cli.serve import build_local_api
from tests.web.test_browser import SCREENSHOTS, browser, loaded_images, watched_page  # noqa: F401  (fixture)
from tests.web.test_gallery_app import axe_violations

HUSKY = "n02110185_Siberian_husky.JPEG"


def tab_to(page, selector: str, presses: int = 80) -> None:
    """Press Tab until the focused element matches `selector` (and show that it has a visible focus)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            assert page.evaluate("() => document.activeElement.matches(':focus-visible')")
            return
    raise AssertionError(f"{selector} never reached with Tab")


def test_duplicates_page_moves_copies_to_the_trash_and_undoes_it_by_keyboard(browser, serve, copies_library):  # noqa: F811
    lib = copies_library
    server = serve(build_local_api(lib.settings, index=lib.index, writes=True))
    with watched_page(browser, (1440, 900)) as page:
        page.goto(server.url + "/#/duplicates")
        groups = page.locator(".dup-group")
        expect(groups).to_have_count(2)
        expect(page.locator("#nav-duplicates")).to_have_attribute("aria-current", "page")
        expect(loaded_images(page, ".dup-file img")).to_have_count(5)
        expect(page.locator("#duplicates-summary")).to_contain_text("2 groups of copies")
        husky = page.locator(f".dup-group[data-keep='{lib.folder / HUSKY}']")
        expect(husky.locator(".dup-file.keep .dup-name")).to_have_text(HUSKY)
        expect(husky.locator(".dup-file.keep .dup-why")).to_have_text("Suggested keep")
        expect(husky.locator(".dup-file:not(.keep) .dup-why")).to_have_text(["edited copy", "edited copy"])
        violations = axe_violations(page)
        assert violations == [], json.dumps(violations, indent=1)
        assert None not in page.locator("img").evaluate_all("imgs => imgs.map(i => i.getAttribute('alt'))")
        page.screenshot(path=str(SCREENSHOTS / "mediaindex-duplicates.png"), full_page=True)

        page.locator("#nav-duplicates").focus()
        tab_to(page, f".dup-group[data-keep='{lib.folder / HUSKY}'] button.move")
        page.keyboard.press("Enter")  # asks first
        confirm = husky.locator("button.confirm-move")
        expect(confirm).to_be_focused()
        expect(husky.locator(".dup-actions")).to_contain_text("You can undo this")
        assert (lib.folder / "husky_half.jpg").is_file()  # nothing moved before the confirmation
        page.keyboard.press("Enter")
        undo = husky.locator("button.undo")
        expect(undo).to_be_focused()
        expect(page.locator("#status")).to_contain_text("Moved 2 files")
        assert not (lib.folder / "husky_half.jpg").exists() and not (lib.folder / "husky_flipped.jpg").exists()
        assert (lib.folder / HUSKY).is_file()
        assert len(list((lib.home / "trash").iterdir())) == 1
        page.screenshot(path=str(SCREENSHOTS / "mediaindex-duplicates-moved.png"), full_page=True)

        page.keyboard.press("Enter")  # Undo
        expect(page.locator("#status")).to_contain_text("Restored 2 files")
        expect(page.locator(".dup-group")).to_have_count(2)
        assert (lib.folder / "husky_half.jpg").is_file() and (lib.folder / "husky_flipped.jpg").is_file()
        expect(page.locator(".trash-batches")).to_have_count(0)  # nothing waits in the trash


def test_read_only_duplicates_page_has_no_edit_controls_nor_command_line_hints(browser, serve, copies_library):  # noqa: F811
    server = serve(build_local_api(copies_library.settings, index=copies_library.index, writes=False))
    with watched_page(browser, (390, 844)) as page:
        page.goto(server.url + "/#/duplicates")
        expect(page.locator(".dup-group")).to_have_count(2)
        expect(loaded_images(page, ".dup-file img")).to_have_count(5)
        assert page.locator("#duplicates-view button, #duplicates-view form, #duplicates-view input").count() == 0
        text = page.inner_text("body")
        assert "--allow-writes" not in text and "mediaindex " not in text
        violations = axe_violations(page)
        assert violations == [], json.dumps(violations, indent=1)
        page.screenshot(path=str(SCREENSHOTS / "mediaindex-duplicates-phone.png"), full_page=True)


def test_similar_photos_strip_on_the_photo_page(browser, serve, copies_library):  # noqa: F811
    lib = copies_library
    server = serve(build_local_api(lib.settings, index=lib.index, writes=False))
    with watched_page(browser, (1440, 900), "dark") as page:
        page.goto(server.url + f"/#/doc/{lib.doc_id(HUSKY)}")
        strip = page.locator("#similar .similar-strip a")
        expect(strip.first).to_be_visible()
        expect(loaded_images(page, "#similar img")).to_have_count(strip.count())
        assert set(strip.evaluate_all("links => links.slice(0, 2).map(a => a.dataset.name)")) == {
            "husky_flipped.jpg", "husky_half.jpg"}
        alts = page.locator("#similar img").evaluate_all("imgs => imgs.map(i => i.alt)")
        assert all(alt and "% alike" in alt for alt in alts), alts
        page.locator("#photo").evaluate("img => img.decode()")
        violations = axe_violations(page)
        assert violations == [], json.dumps(violations, indent=1)
        page.screenshot(path=str(SCREENSHOTS / "mediaindex-similar-strip.png"), full_page=True)
        tab_to(page, "#similar .similar-strip a")
        target = page.evaluate("() => document.activeElement.dataset.id")
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{server.url}/#/doc/{target}")
        expect(page.locator("#detail-title")).not_to_have_text(HUSKY)
