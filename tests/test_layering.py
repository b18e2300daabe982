"""Dependencies point one way: a lower package of the shop never imports a higher one.

The layers are the design's: foundations, then the records every package writes (audit, mail),
accounts and web helpers, catalog and cards, the operator's network (which delivers the cards'
top-ups), vouchers, agents, the edges (storefront, payments, reports, the API, admin pages),
and background jobs, which run every lower package's work. A package may import its own layer
or any lower one. The app factory, the CLI root and the demo data sit on top and may import
anything.
"""

import ast
from pathlib import Path

import pytest

SHOP = Path(__file__).resolve().parent.parent / "shop"

#: Layer of every module or package directly under ``shop/``; higher numbers sit higher.
LAYERS = {
    "config": 0,
    "db": 0,
    "extensions": 0,
    "money": 0,
    "timeutil": 0,
    "wal": 0,
    "throttle": 0,
    "csv_export": 0,
    "session_cookie": 0,
    "provider_settings": 0,
    "ledger": 0,
    "audit": 1,
    "messaging": 1,
    "mail": 1,
    "auth": 2,
    "web": 2,
    "i18n": 2,
    "catalog": 3,
    "cards": 3,
    "network": 4,
    "vouchers": 5,
    "agents": 6,
    "wallet": 6,
    "autorenew": 6,
    "payments": 7,
    "storefront": 7,
    "reports": 7,
    "api": 7,
    "admin": 7,
    "alerts": 7,
    "jobs": 8,
}
#: The top: they assemble the others and may import anything.
TOP = {"__init__", "commands", "demo", "models", "errors"}
#: Folders under shop/ that hold no Python package of the app.
NOT_PACKAGES = {"migrations", "translations", "fonts", "static", "__pycache__"}


def shop_modules():
    """Yield (top-level unit, module path, imported module names) for every module of shop/."""
    for path in sorted(SHOP.rglob("*.py")):
        relative = path.relative_to(SHOP)
        if relative.parts[0] in NOT_PACKAGES:
            continue
        unit = relative.parts[0].removesuffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
                names.extend(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.extend(alias.name for alias in node.names)
        yield unit, relative, names


def test_every_unit_of_the_shop_has_a_layer():
    units = {unit for unit, _, _ in shop_modules()}
    assert units - set(LAYERS) - TOP == set(), "give every new package a layer in LAYERS"


def test_no_package_imports_a_higher_one():
    upward = []
    for unit, path, names in shop_modules():
        if unit in TOP:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "shop" or len(parts) < 2 or parts[1] == unit:
                continue
            target = parts[1]
            if target in TOP or LAYERS.get(target, 0) > LAYERS[unit]:
                upward.append(f"{path} imports {name}")
    assert upward == []


def test_no_service_imports_a_view():
    views = []
    for _unit, path, names in shop_modules():
        if path.stem.endswith("routes") or path.name == "__init__.py":
            continue
        views.extend(
            f"{path} imports {name}"
            for name in names
            if name.startswith("shop.") and name.split(".")[-1].endswith("routes")
        )
    assert views == []


def test_the_product_never_imports_the_simulators():
    found = [
        f"{path} imports {name}"
        for _unit, path, names in shop_modules()
        for name in names
        if name == "simulators" or name.startswith("simulators.")
    ]
    assert found == []


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("vouchers", "agents"), ("audit", "auth"), ("auth", "agents"), ("cards", "network")],
)
def test_the_layers_named_by_the_design_are_in_order(lower, higher):
    assert LAYERS[lower] < LAYERS[higher]
