"""The gallery's merge and "not a face" controls in headless Chromium, on a small library without models (the
colour-coded pictures of tests/people, the real SQLite index and face collection): what the page does is checked in
the index, not only on the page."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from mediaindex.domain import document as docs
from mediaindex.entrypoints.cli.serve import build_local_api
from tests.people.test_merge_and_hide import home, loose_home  # noqa: F401  (fixtures)
from tests.web.helpers import RunningServer
from tests.web.test_browser import SCREENSHOTS, browser, start_editing, watched_page  # noqa: F401  (fixture)


@pytest.fixture
def site(home) -> Iterator[Any]:  # noqa: F811
    settings, media, index = home
    server = RunningServer(build_local_api(settings, roots=[media], index=index, writes=True))
    yield server, media, index
    server.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:  # noqa: F811
    with watched_page(browser) as page:
        yield page


def test_merge_two_people_on_the_people_page(page, site):
    server, media, index = site
    page.goto(server.url + "/#/people")
    page.wait_for_selector("#people-list")
    start_editing(page)
    page.wait_for_selector("#merge-people")
    page.screenshot(path=str(SCREENSHOTS / "mediaindex-people-merge.png"))
    page.select_option("#merge-from", "Ada L")
    page.select_option("#merge-into", "Ada")
    page.click("#merge-people button")
    expect(page.locator("#status")).to_contain_text("Ada L is now Ada")
    expect(page.locator("#people-list li", has_text="Ada L")).to_have_count(0)
    for name in ("0.png", "3.png"):
        assert index.get(docs.document_id("", str(media / name))).doc["people"] == ["Ada"]


def test_hide_a_face_on_the_photo_page_and_it_stays_hidden(page, site):
    server, media, index = site
    doc_id = docs.document_id("", str(media / "2.png"))
    page.goto(server.url + f"/#/doc/{doc_id}")
    page.wait_for_selector("#photo")
    start_editing(page)
    page.wait_for_selector("#hide-face")
    expect(page.locator(".box.face")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "mediaindex-hide-face.png"))
    page.select_option("#hide-choice", "1")  # Bob's face
    page.click("#hide-face button")
    expect(page.locator(".box.face")).to_have_count(1)
    expect(page.locator(".box.face .tag")).to_have_text("Ada")
    assert index.get(doc_id).doc["people"] == ["Ada"]  # the page showed it once the write was done


def test_split_a_cluster_on_the_people_page(page, browser, loose_home):  # noqa: F811
    settings, media, index = loose_home
    server = RunningServer(build_local_api(settings, roots=[media], index=index, writes=True))
    try:
        page.goto(server.url + "/#/people")
        page.wait_for_selector("li.cluster")
        start_editing(page)
        page.wait_for_selector("li.cluster form")
        expect(page.locator("li.cluster")).to_have_count(1)
        page.screenshot(path=str(SCREENSHOTS / "mediaindex-split-cluster.png"))
        card = page.locator("li.cluster")
        bob = {docs.document_id("", str(media / "1.png")): "0", docs.document_id("", str(media / "2.png")): "1"}
        picks = card.locator("input.pick")
        for i in range(picks.count()):
            pick = picks.nth(i)
            if bob.get(pick.get_attribute("data-id")) == pick.get_attribute("data-face"):
                pick.check()
        card.get_by_role("button", name="Split off the faces ticked").click()
        expect(page.locator("#status")).to_contain_text("2 face(s) moved to c2")
        expect(page.locator("li.cluster")).to_have_count(2)
        expect(page.locator("li.cluster[data-cluster=c2] .faces img")).to_have_count(2)
    finally:
        server.close()


def test_read_only_pages_have_no_merge_and_no_hide(browser, home):  # noqa: F811
    settings, media, index = home
    server = RunningServer(build_local_api(settings, roots=[media], index=index, writes=False))
    page = browser.new_page()
    try:
        page.goto(server.url + "/#/people")
        page.wait_for_selector("#people-list")
        assert page.locator("#merge-people").count() == 0 and page.locator("#edit-toggle").is_hidden()
        page.goto(server.url + f"/#/doc/{docs.document_id('', str(media / '2.png'))}")
        page.wait_for_selector(".box.face")
        assert page.locator("#hide-face").count() == 0 and "--allow-writes" not in page.inner_text("body")
    finally:
        page.close()
        server.close()
