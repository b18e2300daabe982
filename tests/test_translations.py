"""Every user-facing string marked in code and templates has a Simplified Chinese translation."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "shop" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
METHODS = [("shop/**.py", "python"), ("templates/**.html", "jinja2")]


def extracted_messages() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHODS, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_marked_string_has_a_chinese_translation():
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    missing = []
    for msgid in sorted(extracted_messages()):
        entry = catalog.get(msgid)
        translated = (
            entry is not None
            and not entry.fuzzy
            and all(entry.string if isinstance(entry.string, tuple) else [entry.string])
        )
        if not translated:
            missing.append(msgid)
    assert not missing, "untranslated (run `make extract-messages` and translate):\n" + "\n".join(
        missing
    )


def test_translations_keep_every_placeholder():
    import re

    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    placeholder = re.compile(r"%\(\w+\)[sd]")
    for entry in catalog:
        if not entry.id:
            continue
        source = entry.id[0] if isinstance(entry.id, tuple) else entry.id
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for string in strings:
            assert set(placeholder.findall(string)) == set(placeholder.findall(source)), source
