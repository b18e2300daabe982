"""Looking at every main page in one language, at phone and desktop width: screenshots, axe-core.

Each page is opened once per language and looked at as a person and a checker would: a
full-page PNG at each width into ``screenshots/<language>-<width>/`` (ignored by git; ``make
screenshots`` runs only the two modules that use this one), no error status, not wider than the
screen (tables scroll inside their frame), and no serious or critical axe-core finding at either
width: a table that scrolls sideways on a phone must be reachable by keyboard, which only shows
at phone width.

axe-core comes from the ``axe-playwright-python`` package (its bundled ``axe.min.js``): nothing
is fetched at run time. The script is evaluated through the DevTools protocol, which the pages'
Content-Security-Policy (no inline scripts) does not govern, so the CSP stays on as in production.
"""

from pathlib import Path

from axe_playwright_python.base import AXE_SCRIPT

from tests.browser.pages import LANGUAGES, WIDTHS, pages_by_role

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
#: Impacts that fail the check; "moderate" and "minor" findings are reported, not failed.
FAILING_IMPACTS = {"serious", "critical"}
RUN_AXE = """
async () => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    resultTypes: ["violations"],
  });
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
  }));
}
"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def axe_violations(page) -> list[dict]:
    """Run axe-core on the page as it is laid out now and return its violations."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    return page.evaluate(RUN_AXE)


def check_main_pages(new_context, shop, language: str) -> None:
    """Open every main page in ``language``; fail on a page too wide or a serious axe finding."""
    folders = {width: SCREENSHOTS / f"{language}-{width}" for width in WIDTHS}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    too_wide, serious, minor = [], [], set()
    for role, pages in pages_by_role(shop.seed).items():
        page = new_context(locale=LANGUAGES[language], role=role).new_page()
        for main_page in pages:
            main_page.open(page)
            for width, pixels in WIDTHS.items():
                page.set_viewport_size({"width": pixels, "height": 900})
                page.screenshot(path=folders[width] / f"{main_page.name}.png", full_page=True)
                overflow = page.evaluate(OVERFLOW)
                if overflow > 0:
                    too_wide.append(f"{main_page.name} at {pixels} px ({overflow} px too wide)")
                for violation in axe_violations(page):
                    line = (
                        f"{main_page.name} at {pixels} px: {violation['id']} "
                        f"({violation['impact']}) {violation['help']} at {violation['targets']}"
                    )
                    if violation["impact"] in FAILING_IMPACTS:
                        serious.append(line)
                    else:
                        minor.add(line)
        page.context.close()
    if minor:
        print("axe, moderate or minor:\n" + "\n".join(sorted(minor)))
    assert not too_wide, "pages wider than the screen: " + ", ".join(too_wide)
    assert not serious, "\n".join(serious)
