"""axe-core finds no serious or critical accessibility problem on the main pages, in both languages.

axe-core comes from the ``axe-playwright-python`` package (its bundled ``axe.min.js``): nothing
is fetched at run time. The script is evaluated through the DevTools protocol, which the pages'
Content-Security-Policy (no inline scripts) does not govern, so the CSP stays on as in production.
"""

import pytest
from axe_playwright_python.base import AXE_SCRIPT

from tests.browser.pages import LANGUAGES, pages_by_role

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


def axe_violations(page) -> list[dict]:
    """Run axe-core on the page and return its violations."""
    page.evaluate(AXE_SCRIPT)
    return page.evaluate(RUN_AXE)


@pytest.mark.parametrize("language", LANGUAGES)
def test_main_pages_have_no_serious_accessibility_violations(new_context, shop, language):
    serious, minor = [], []
    for role, pages in pages_by_role(shop.seed).items():
        page = new_context(locale=LANGUAGES[language], role=role).new_page()
        for main_page in pages:
            main_page.open(page)
            for violation in axe_violations(page):
                line = (
                    f"{main_page.name}: {violation['id']} ({violation['impact']}) "
                    f"{violation['help']} at {violation['targets']}"
                )
                (serious if violation["impact"] in FAILING_IMPACTS else minor).append(line)
        page.context.close()
    if minor:
        print("axe, moderate or minor:\n" + "\n".join(minor))
    assert not serious, "\n".join(serious)
