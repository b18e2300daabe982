"""Full-page screenshots of the main pages at phone and desktop width, in both languages.

They land in ``screenshots/<language>-<width>/`` (ignored by git) for people to look at;
``make screenshots`` runs only this module. Each page is also checked for what a person
would notice at once: an error status, or a page wider than the screen.
"""

from pathlib import Path

import pytest

from tests.browser.pages import LANGUAGES, WIDTHS, pages_by_role

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.mark.parametrize("language", LANGUAGES)
def test_main_pages_fit_the_screen_and_are_saved_as_screenshots(new_context, shop, language):
    folders = {width: SCREENSHOTS / f"{language}-{width}" for width in WIDTHS}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    too_wide = []
    for role, pages in pages_by_role(shop.seed).items():
        page = new_context(locale=LANGUAGES[language], role=role).new_page()
        for main_page in pages:
            main_page.open(page)
            for width, pixels in WIDTHS.items():
                page.set_viewport_size({"width": pixels, "height": 900})
                page.screenshot(path=folders[width] / f"{main_page.name}.png", full_page=True)
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                if overflow > 0:
                    too_wide.append(f"{main_page.name} at {pixels} px ({overflow} px too wide)")
        page.context.close()
    assert not too_wide, "pages wider than the screen: " + ", ".join(too_wide)
