"""The main pages of the shop, as each kind of user sees them: screenshots and a11y checks."""

from dataclasses import dataclass

#: Browser locales (sent as Accept-Language) and the short name used in file names.
LANGUAGES = {"en": "en-GB", "zh": "zh-CN"}
#: Phone and desktop viewport widths.
WIDTHS = {"phone": 390, "desktop": 1280}


@dataclass(frozen=True)
class MainPage:
    """A page worth looking at: its name, who looks (a demo role or nobody) and its path."""

    name: str
    role: str | None
    path: str


def main_pages(seed) -> list[MainPage]:
    """Return the main pages; paths that need a seeded voucher or batch use ``seed``."""
    serial = seed.serials[-1]
    return [
        MainPage("catalog", None, "/"),
        MainPage("pack", None, "/packs/ASIA-10GB-30D"),
        MainPage("card-check", None, "/card?number=8966000000000000012"),
        MainPage("redeem", None, "/redeem"),
        MainPage("login", None, "/login"),
        MainPage("register", None, "/register"),
        MainPage("account", "customer", "/account"),
        MainPage("card-history", "customer", "/card?number=8966000000000000012"),
        MainPage("counter", "staff", "/counter"),
        MainPage("counter-sale", "staff", f"/counter/batches/{seed.batch_id}"),
        MainPage("counter-voucher", "staff", f"/counter/vouchers/{serial}"),
        MainPage("manage", "manager", "/manage/"),
        MainPage("statement", "manager", "/manage/statement"),
        MainPage("float-requests", "manager", "/manage/float-requests"),
        MainPage("admin", "admin", "/admin/"),
        MainPage("admin-packs", "admin", "/admin/products"),
        MainPage("admin-pack-form", "admin", "/admin/products/new"),
        MainPage("admin-agents", "admin", "/admin/agents"),
        MainPage("admin-agent", "admin", "/admin/agents/DEMO"),
        MainPage("admin-float-requests", "admin", "/admin/float-requests"),
        MainPage("admin-vouchers", "admin", "/admin/vouchers"),
        MainPage("admin-batch", "admin", f"/admin/vouchers/batches/{seed.batch_id}"),
        MainPage("admin-voucher", "admin", f"/admin/vouchers/{serial}"),
        MainPage("admin-cards", "admin", "/admin/cards"),
        MainPage("admin-card", "admin", "/admin/cards/1"),
        MainPage("audit-log", "admin", "/admin/audit"),
    ]


def pages_by_role(seed) -> dict[str | None, list[MainPage]]:
    """Group the main pages by who looks at them, so each role logs in once."""
    grouped: dict[str | None, list[MainPage]] = {}
    for page in main_pages(seed):
        grouped.setdefault(page.role, []).append(page)
    return grouped
