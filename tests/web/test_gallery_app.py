"""The gallery as a photo app, in headless Chromium on a phone's library (dates taken, GPS positions, a camera, a
screenshot and a video: conftest.phone_library): the timeline by date taken with its scrubber, the viewer's keys,
swipe and zoom, places, the map, and accessibility (axe-core, from npm, injected by the test; every control
reached by the keyboard with a visible focus) at a phone's and a desktop's size, light and dark. Screenshots are
kept in $MEDIAINDEX_SCREENSHOTS (or /tmp) as mediaindex-app-*.png.

Every wait is on a condition of the page or an event (Playwright's expect and selectors), never a sleep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from mediaindex.entrypoints.cli.serve import build_local_api
from tests.web.helpers import RunningServer
from tests.web.test_browser import SCREENSHOTS, browser, loaded_images, tile_names, watched_page  # noqa: F401  (fixture)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}
NEWEST_FIRST = ["short_hamilton_clip.mp4", "n02110185_Siberian_husky.jpg", "n02097474_Tibetan_terrier.jpg",
                "n07747607_orange.jpg", "n02091635_otterhound.jpg", "n03297495_espresso_maker.jpg",
                "Screenshot 2025-06-03 at 10.00.00.png", "n02793495_barn.jpg", "n09332890_lakeside.jpg"]


@pytest.fixture(scope="module")
def phone_site(phone_library) -> Iterator[Any]:
    server = RunningServer(build_local_api(phone_library.settings, index=phone_library.index, writes=False))
    yield server
    server.close()


@pytest.fixture(params=[(size, scheme) for size in SIZES for scheme in ("light", "dark")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def sized_page(request, browser) -> Iterator[Any]:  # noqa: F811
    size, scheme = request.param
    with watched_page(browser, SIZES[size], scheme) as page:
        page.shot = lambda name: page.screenshot(path=str(SCREENSHOTS / f"mediaindex-app-{name}-{size}-{scheme}.png"))
        page.size = size
        yield page


@pytest.fixture
def page(browser) -> Iterator[Any]:  # noqa: F811
    with watched_page(browser, (1440, 900)) as page:
        yield page


def axe_violations(page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A and AA rules (contrast, names, alt text, labels, landmarks) on the page as it is. The
    script is evaluated through the browser's debugging protocol: the page's CSP refuses inline scripts."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate("""() => axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } })
        .then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5) })))""")
    return list(result)


# ---- 1. the timeline ---------------------------------------------------------------------------------------------
def test_home_is_the_timeline_newest_first_by_day_under_months(sized_page, phone_site):
    page = sized_page
    page.goto(phone_site.url + "/")
    months = page.locator("h2.month-title")
    expect(months).to_have_count(6)  # Dec 2026 (the video: its file date), Jun and Mar 2025, Dec and Aug 2024, Jul 2023
    expect(page.locator(".month[data-month='2025-06'][data-loaded]")).to_have_count(1)
    assert page.locator(".month").evaluate_all("ms => ms.map(m => m.dataset.month)") == [
        "2026-12", "2025-06", "2025-03", "2024-12", "2024-08", "2023-07"]
    june = page.locator(".month[data-month='2025-06']")
    if page.size == "desktop":  # a line per day
        assert june.locator("h3.day-title").count() == 4  # 14, 12, 3 and 2 June
    else:  # a phone: the month in one run of rows, the first photo of each day marked with its date
        assert june.locator(".tile .day-chip").count() == 4
    expect(loaded_images(page, ".month[data-month='2025-06'] .tile img")).to_have_count(7)
    assert tile_names(page)[:9] == NEWEST_FIRST[:9]
    assert page.get_attribute("#q", "placeholder") == "Search photos, people, places"
    # dense: no captions, several photos side by side, rows as wide as the page
    first_row = june.locator(".rows").first.evaluate("""ul => { const ys = [];
        for (const li of ul.children) { if (li.classList.contains("break")) break; ys.push(Math.round(li.getBoundingClientRect().y)); }
        return ys; }""")
    assert len(first_row) >= 2 and len(set(first_row)) == 1
    page.shot("timeline")


def test_the_scrubber_jumps_to_a_month_and_months_load_as_they_near(page, phone_site):
    page.goto(phone_site.url + "/")
    page.wait_for_selector(".month[data-loaded]")
    scrubber = page.locator("#scrubber")
    expect(scrubber).to_be_visible()
    assert scrubber.locator(".scrub-year").all_inner_texts() == ["2026", "2025", "2024", "2023"]
    page.set_viewport_size({"width": 1440, "height": 300})  # a short window: the oldest month is far below
    scrubber.get_by_role("button", name="July 2023: 2 photos").click()
    july = page.locator(".month[data-month='2023-07']")
    expect(july).to_have_attribute("data-loaded", "true")
    expect(july.locator(".tile")).to_have_count(2)
    assert july.locator("h2").evaluate("h => h === document.activeElement")  # the focus follows the jump
    expect(scrubber.locator("button.current", has_text="Jul")).to_have_count(1)


def test_years_kinds_and_things_filter_the_timeline(page, phone_site):
    page.goto(phone_site.url + "/")
    page.wait_for_selector(".month[data-loaded]")
    legends = page.locator("#facets legend").all_inner_texts()
    assert [t.lower() for t in legends] == ["places", "years", "kinds", "things"]  # no people in this library
    kinds = page.locator("fieldset[data-facet=kinds] label").all_inner_texts()
    assert kinds == ["Photos\n18", "Videos\n1", "Screenshots\n1"]
    things = [t.split("\n")[0] for t in page.locator("fieldset[data-facet=labels] label").all_inner_texts()]
    assert "dog" in things
    # one concept once: the taxonomy's broader terms are not listed (still searchable)
    assert not {"animal", "mammal", "vertebrate", "canine", "carnivore", "domestic animal"} & set(things)
    page.locator("fieldset[data-facet=years] label", has_text="2024").click()
    expect(page.locator(".month")).to_have_count(2)
    expect(page.locator(".tile")).to_have_count(5)
    page.locator("fieldset[data-facet=kinds] label", has_text="Screenshots").click()
    page.goto(phone_site.url + "/#/?kind=screenshot")
    expect(page.locator(".tile")).to_have_count(1)
    assert tile_names(page) == ["Screenshot 2025-06-03 at 10.00.00.png"]
    page.goto(phone_site.url + "/#/?q=mammal")  # searchable, though not listed
    expect(page.locator(".tile").first).to_be_visible()
    assert "n02110185_Siberian_husky.jpg" in tile_names(page)


def test_the_query_syntax_is_one_click_away(page, phone_site):
    page.goto(phone_site.url + "/")
    tips = page.locator("#syntax-help")
    expect(tips).to_be_hidden()
    page.click("#syntax-toggle")
    expect(tips).to_be_visible()
    assert "label:dog>=90" in tips.inner_text()
    assert page.get_attribute("#syntax-toggle", "aria-expanded") == "true"


# ---- 2. the viewer -----------------------------------------------------------------------------------------------
def test_the_viewer_steps_with_arrow_keys_and_j_k_and_zooms(sized_page, phone_site):
    page = sized_page
    page.goto(phone_site.url + "/")
    expect(loaded_images(page, ".month[data-month='2025-06'] .tile img")).to_have_count(7)
    page.locator(".tile a[data-name='n02110185_Siberian_husky.jpg']").click()
    title = page.locator("#detail-title")
    expect(title).to_have_text("n02110185_Siberian_husky.jpg")
    page.locator("#photo").evaluate("img => img.decode()")
    assert page.inner_text("#where") == "Paris, France"
    when = page.inner_text("#when")  # the date in words, in the browser's language
    assert "2025" in when and "June" in when and ("Saturday" in when or "Sat" in when)
    assert "Dog" in page.inner_text("#label-chips")
    page.shot("viewer")
    page.keyboard.press("ArrowRight")
    expect(title).to_have_text(NEWEST_FIRST[2])
    page.keyboard.press("j")
    expect(title).to_have_text(NEWEST_FIRST[3])
    page.keyboard.press("k")
    expect(title).to_have_text(NEWEST_FIRST[2])
    page.keyboard.press("ArrowLeft")
    expect(title).to_have_text(NEWEST_FIRST[1])
    page.keyboard.press("+")
    expect(page.locator("#zoom-level")).to_have_text("150 %")
    assert page.locator(".stage").evaluate("s => s.classList.contains('zoomed')")
    page.click("#zoom-out")
    expect(page.locator("#zoom-level")).to_have_text("100 %")
    page.keyboard.press("Escape")
    expect(page.locator("#gallery-view")).to_be_visible()
    assert "/doc/" not in page.url  # stepping through photos did not pile up in the history


def test_the_viewer_asks_for_the_photos_either_side_ahead(page, phone_site):
    """Once the viewer's photo has loaded, the previews of the photos before and after it are asked for, so that a
    step shows a sharp photo at once; a video beside it (it has no preview) is not asked for."""
    page.goto(phone_site.url + "/")
    expect(loaded_images(page, ".month[data-month='2025-06'] .tile img")).to_have_count(7)
    ids = dict(zip(tile_names(page), page.locator(".tile a").evaluate_all("links => links.map(a => a.dataset.id)")))
    page.context.new_cdp_session(page).send("Network.clearBrowserCache")  # no preview held from other tests
    husky, terrier, orange = NEWEST_FIRST[1:4]
    with page.expect_request(lambda r: r.url.endswith(f"/api/documents/{ids[orange]}/preview")), \
            page.expect_request(lambda r: r.url.endswith(f"/api/documents/{ids[husky]}/preview")):
        page.locator(f".tile a[data-name='{terrier}']").click()
    expect(page.locator("#photo")).to_have_attribute("data-ahead", f"{ids[orange]} {ids[husky]}")
    page.keyboard.press("ArrowLeft")  # to the husky: the terrier is after it, the video before it
    expect(page.locator("#detail-title")).to_have_text(husky)
    expect(page.locator("#photo")).to_have_attribute("data-ahead", ids[terrier])


def test_a_swipe_shows_the_next_photo(page, phone_site):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(phone_site.url + "/")
    page.locator(".tile a[data-name='n02110185_Siberian_husky.jpg']").click()
    stage = page.locator(".stage")
    stage.wait_for()
    box = stage.bounding_box()
    y = box["y"] + box["height"] / 2
    for kind, x in (("pointerdown", box["x"] + box["width"] * 0.8), ("pointerup", box["x"] + box["width"] * 0.2)):
        stage.dispatch_event(kind, {"clientX": x, "clientY": y, "pointerType": "touch", "isPrimary": True,
                                    "bubbles": True})
    expect(page.locator("#detail-title")).to_have_text(NEWEST_FIRST[2])


# ---- 3. places and the map ---------------------------------------------------------------------------------------
def test_places_lists_countries_then_cities_with_covers_and_counts(sized_page, phone_site):
    page = sized_page
    page.goto(phone_site.url + "/#/places")
    countries = page.locator(".country h2 a")
    expect(countries).to_have_count(3)
    assert countries.all_inner_texts() == ["France", "Japan", "United States"]
    france = page.locator(".country").first
    assert [t.split("\n")[0] for t in france.locator(".place-card").all_inner_texts()] == ["Paris", "Lyon"]
    assert "4 photos" in france.locator(".place-card").first.inner_text()
    expect(loaded_images(page, ".place-card img")).to_have_count(5)
    page.shot("places")
    page.locator(".place-card a", has_text="Tokyo").click()
    expect(page.locator(".tile")).to_have_count(3)
    assert "place=Tokyo" in page.url


def test_the_map_draws_countries_and_opens_a_cluster_as_a_grid(sized_page, phone_site):
    page = sized_page
    page.goto(phone_site.url + "/#/map")
    surface = page.locator("#map")
    expect(surface).to_have_attribute("data-outlines", "209")  # drawn from the outlines served here, offline
    assert page.locator(".land path").count() == 209
    pins = page.locator(".cluster-pin")
    expect(pins.first).to_be_visible()
    counts = sorted(int(n) for n in pins.evaluate_all("ps => ps.map(p => p.dataset.count)"))
    assert sum(counts) == 14  # every photo with a place, in one cluster or another
    expect(loaded_images(page, ".cluster-pin img")).to_have_count(pins.count())
    page.shot("map")
    tokyo = page.locator(".cluster-pin[aria-label*='Tokyo']")  # Kyoto's photo may share its cluster, zoomed out
    expect(tokyo).to_have_count(1)
    assert tokyo.get_attribute("aria-label").startswith(tokyo.get_attribute("data-count") + " photos in ")
    tokyo.click()
    grid = page.locator("#cluster-photos .tile")
    expect(grid).to_have_count(int(tokyo.get_attribute("data-count")))
    expect(page.locator("#cluster-title")).to_be_focused()
    names = page.locator("#cluster-photos .tile a").evaluate_all("links => links.map(a => a.dataset.name)")
    assert {"n04562935_water_tower.jpg", "n03160309_dam.jpg", "n02488702_colobus.jpg"} <= set(names)
    grid.first.locator("a").click()
    expect(page.locator("#detail-title")).to_have_text(names[0])
    page.keyboard.press("ArrowRight")
    expect(page.locator("#detail-title")).to_have_text(names[1])  # the viewer steps through the cluster


def test_the_map_moves_and_zooms_from_the_keyboard(page, phone_site):
    page.goto(phone_site.url + "/#/map")
    surface = page.locator("#map")
    expect(page.locator(".cluster-pin").first).to_be_visible()
    before = page.locator(".cluster-pin").count()
    zoom = float(surface.get_attribute("data-zoom"))
    surface.focus()
    page.keyboard.press("+")  # the key's handler has run when press returns: no wait needed
    assert float(surface.get_attribute("data-zoom")) == pytest.approx(zoom * 2, rel=1e-3)
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert float(surface.get_attribute("data-zoom")) == pytest.approx(max(1.0, zoom / 2), rel=1e-3)
    assert page.locator(".cluster-pin").count() <= before  # zoomed out: the clusters merge
    box = page.locator(".map-svg").evaluate("s => s.getAttribute('viewBox')")
    page.keyboard.press("ArrowLeft")
    assert page.locator(".map-svg").evaluate("s => s.getAttribute('viewBox')") != box


# ---- 7. accessibility --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["/", "/#/places", "/#/map", "viewer"])
def test_axe_finds_no_violations(sized_page, phone_site, where):
    page = sized_page
    page.goto(phone_site.url + ("/" if where == "viewer" else where))
    if where in ("/", "viewer"):  # the photos on the first screen are in (the others load as they near it)
        expect(loaded_images(page, ".month[data-month='2025-06'] .tile img")).to_have_count(7)
    if where == "viewer":
        page.locator(".tile a[data-name='n02110185_Siberian_husky.jpg']").click()
        page.locator("#photo").evaluate("img => img.decode()")
    elif where == "/#/places":
        expect(loaded_images(page, ".place-card img")).to_have_count(5)
    elif where == "/#/map":
        page.wait_for_selector(".cluster-pin")
        expect(page.locator("#map-view img:not(.loaded)")).to_have_count(0)
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)
    alts = page.locator("img").evaluate_all("imgs => imgs.map(i => i.getAttribute('alt'))")
    assert None not in alts  # every image says what it shows, or alt="" beside a text that does


def test_every_control_is_reached_by_the_keyboard_with_a_visible_focus(page, phone_site):
    """Tab from the top: each focused element shows an outline (:focus-visible), and the header's controls, a
    filter, a photo and the scrubber are all reached."""
    page.goto(phone_site.url + "/")
    expect(loaded_images(page, ".month[data-month='2025-06'] .tile img")).to_have_count(7)
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
            return { id: e.id, cls: e.className, tag: e.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
                     visible: e.matches(':focus-visible') }; }""")
        if info["tag"] == "BODY":
            continue
        assert info["visible"] and info["outline"] != "none" and info["width"] >= 2, info
        reached.append(f"{info['tag']}#{info['id']}")
    for wanted in ("q", "syntax-toggle", "nav-people", "nav-places", "nav-map"):
        assert any(r.endswith("#" + wanted) for r in reached), reached
    assert any(r.startswith("INPUT#facet-") for r in reached), reached  # a filter
    assert "A#" in reached, reached  # a photo (a link without an id)
    page.locator("#scrubber button").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("h2.month-title").first).to_be_focused()
