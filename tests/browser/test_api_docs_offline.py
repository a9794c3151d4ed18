"""/api/docs/ (Swagger UI) and /api/redoc/ render with nothing fetched from another host (issue 12 item 6).

The `open_page` fixture fails the test on any request that leaves 127.0.0.1 (a CDN, web fonts, a logo), on a
console error and on any failed asset.
"""

import pytest

pytestmark = pytest.mark.browser


def test_redoc_renders_the_api_with_local_assets_only(db, open_page):
    page, watch = open_page()

    page.goto("/api/redoc/")
    page.wait_for_selector("text=API docs by Redocly")  # the sidebar footer whose logo came from Redocly's CDN
    page.wait_for_selector("h1:has-text('Voice API')")
    page.wait_for_load_state("networkidle")

    fonts = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert "Montserrat" not in fonts and "system-ui" in fonts
    assert page.evaluate(
        "[...document.images].every(image => !image.src.startsWith('http') || image.src.startsWith(location.origin))"
    )


def test_swagger_ui_renders_the_api_with_local_assets_only(db, open_page):
    page, watch = open_page()

    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title:has-text('Voice API')")
    page.wait_for_selector(".opblock-tag")
    page.wait_for_load_state("networkidle")
