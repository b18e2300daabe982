"""Every main page in Chinese, at phone and desktop width: screenshots and axe-core.

The English twin is ``test_main_pages.py``; what is checked is in ``tests/browser/main_pages.py``.
"""

from tests.browser.main_pages import check_main_pages


def test_main_pages_fit_the_screen_pass_axe_and_are_saved_as_screenshots(new_context, shop):
    check_main_pages(new_context, shop, "zh")
