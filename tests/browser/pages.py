"""The main pages of the shop, as each kind of user sees them: screenshots and a11y checks."""

from collections.abc import Callable
from dataclasses import dataclass

#: Browser locales (sent as Accept-Language) and the short name used in file names.
LANGUAGES = {"en": "en-GB", "zh": "zh-CN"}
#: Phone and desktop viewport widths.
WIDTHS = {"phone": 390, "desktop": 1280}


@dataclass(frozen=True)
class MainPage:
    """A page worth looking at: its name, who looks (a demo role or nobody) and its path.

    ``prepare`` does in the browser what the page needs first (a cart lives in the session,
    so only the visitor's own clicks can fill it); ``shows`` is a CSS selector the page must
    match, so that a page missing what it is meant to show fails instead of being pictured.
    """

    name: str
    role: str | None
    path: str
    prepare: Callable | None = None
    shows: str = "main h1"

    def open(self, page):
        """Prepare, go to the page and check it answered and shows what it should."""
        if self.prepare is not None:
            self.prepare(page)
        response = page.goto(self.path)
        assert response.ok, f"{self.path}: HTTP {response.status}"
        assert page.locator(self.shows).count(), f"{self.name}: nothing matches {self.shows!r}"
        return response


def fill_cart(page) -> None:
    """Put two packs in the visitor's cart and apply a promotion code, with the page's forms."""
    for sku in ("ASIA-10GB-30D", "ASIA-1GB-7D"):
        page.goto(f"/packs/{sku}")
        with page.expect_navigation():
            page.locator("main form[action$='/cart/add'] [type=submit]").click()
    page.locator("#code").fill("WELCOME10")
    with page.expect_navigation():
        page.locator("main form[action$='/cart/promotion'] [type=submit]").click()


def main_pages(seed) -> list[MainPage]:
    """Return the main pages; paths that need a seeded voucher, batch or order use ``seed``."""
    serial = seed.serials[-1]
    return [
        MainPage("catalog", None, "/"),
        MainPage("pack", None, "/packs/ASIA-10GB-30D"),
        MainPage("card-check", None, "/card?number=8966000000000000012"),
        MainPage("redeem", None, "/redeem"),
        MainPage("login", None, "/login"),
        MainPage("register", None, "/register"),
        MainPage("cart-empty", None, "/cart", shows="main .empty-state"),
        MainPage("cart", None, "/cart", prepare=fill_cart, shows="main tfoot tr + tr + tr"),
        MainPage("checkout", None, "/checkout", shows="main form [name=email]"),
        MainPage("order-confirm", None, seed.pending_order, shows="#confirm-heading"),
        MainPage("order-pins", None, seed.paid_order, shows="main td.pin"),
        MainPage("account", "customer", "/account"),
        MainPage("card-history", "customer", "/card?number=8966000000000000012"),
        MainPage("account-orders", "customer", "/account/orders", shows="main tbody tr"),
        MainPage("account-cards", "customer", "/account/cards", shows="main tbody tr"),
        MainPage("wallet", "customer", "/account/wallet", shows="main tbody tr"),
        MainPage("wallet-top-up", "customer", "/account/wallet/top-up", shows="main [name=amount]"),
        # The demo customer's card (the first demo card) with its active auto-renew.
        MainPage("auto-renew", "customer", "/account/auto-renew/1", shows="main .autorenew dl"),
        MainPage("counter", "staff", "/counter"),
        MainPage("counter-sale", "staff", f"/counter/batches/{seed.batch_id}"),
        MainPage("counter-voucher", "staff", f"/counter/vouchers/{serial}"),
        MainPage("counter-card", "staff", "/counter/cards?number=8966000000000000012"),
        MainPage("manage", "manager", "/manage/"),
        MainPage("statement", "manager", "/manage/statement"),
        MainPage("float-requests", "manager", "/manage/float-requests"),
        MainPage("sub-agents", "manager", "/manage/tree", shows="main tbody tr + tr"),
        MainPage("sub-agent", "manager", "/manage/agents/DEMO-KIOSK"),
        MainPage("reports", "manager", "/reports/"),
        MainPage("reports-sales", "manager", "/reports/sales", shows="main tbody tr"),
        MainPage("admin", "admin", "/admin/"),
        MainPage("admin-packs", "admin", "/admin/products"),
        MainPage("admin-pack-form", "admin", "/admin/products/new"),
        MainPage("admin-agents", "admin", "/admin/agents"),
        MainPage("admin-agent", "admin", "/admin/agents/DEMO"),
        MainPage("admin-agent-tree", "admin", "/admin/agents/tree", shows="main tbody tr + tr"),
        MainPage("admin-float-requests", "admin", "/admin/float-requests"),
        MainPage("admin-vouchers", "admin", "/admin/vouchers"),
        MainPage("admin-batch", "admin", f"/admin/vouchers/batches/{seed.batch_id}"),
        MainPage("admin-voucher", "admin", f"/admin/vouchers/{serial}"),
        MainPage("admin-cards", "admin", "/admin/cards"),
        MainPage("admin-card", "admin", "/admin/cards/1"),
        MainPage("audit-log", "admin", "/admin/audit"),
        MainPage("admin-jobs", "admin", "/admin/jobs", shows="main #periodic-heading"),
        MainPage("admin-orders", "admin", "/admin/orders", shows="main tbody tr"),
        MainPage("admin-wallets", "admin", "/admin/wallets", shows="main tbody tr"),
        MainPage("admin-auto-renew", "admin", "/admin/auto-renew", shows="main tbody tr"),
        MainPage("admin-order", "admin", admin_order_path(seed), shows="main form [name=amount]"),
        MainPage("admin-promotions", "admin", "/admin/promotions", shows="main tbody tr"),
        MainPage("admin-promotion", "admin", f"/admin/promotions/{seed.promotion_id}"),
        MainPage("admin-promotion-form", "admin", "/admin/promotions/new", shows="main form"),
        MainPage("admin-sales", "admin", "/reports/sales", shows="main tbody tr"),
        MainPage("settlement", "admin", "/reports/settlement", shows="main tbody tr"),
        MainPage("online-sales", "admin", "/reports/storefront", shows="main tbody tr"),
        MainPage("stock", "admin", "/reports/stock", shows="main tbody tr"),
    ]


def admin_order_path(seed) -> str:
    """Return the admin page of the seeded paid order (its private link names the reference)."""
    reference = seed.paid_order.split("?", 1)[0].rstrip("/").rsplit("/", 1)[1]
    return f"/admin/orders/{reference}"


def pages_by_role(seed) -> dict[str | None, list[MainPage]]:
    """Group the main pages by who looks at them, so each role logs in once."""
    grouped: dict[str | None, list[MainPage]] = {}
    for page in main_pages(seed):
        grouped.setdefault(page.role, []).append(page)
    return grouped
