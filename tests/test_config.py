"""Configuration layers: embedded defaults, instance folder, environment, overrides.

These tests build the app themselves (no database is opened), with ``tmp_path`` as the
instance folder and a clean environment.
"""

import json
import stat

import pytest

from shop import create_app
from shop.config import ENV_SETTINGS, normalise_database_url, parse_env_value

FIXED_SECRETS = {
    "SECRET_KEY": "from-the-caller-" + "y" * 32,
    "PIN_HMAC_KEY": "22" * 32,
    "PIN_ENCRYPTION_KEYS": "k1:" + "B" * 43 + "=",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No setting leaks in from the shell running the tests."""
    for name in [*ENV_SETTINGS, "DATABASE_URL", "FLASK_DEBUG"]:
        monkeypatch.delenv(name, raising=False)


def build(tmp_path, config=None):
    """Return an app whose instance folder is ``tmp_path``."""
    return create_app(config or {}, instance_path=str(tmp_path))


def test_without_database_url_the_shop_uses_sqlite_inside_the_instance_folder(tmp_path):
    app = build(tmp_path)

    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'shop.db'}"


def test_missing_instance_folder_is_created_for_the_embedded_database(tmp_path):
    instance = tmp_path / "does" / "not" / "exist"

    app = build(instance)

    assert instance.is_dir()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'shop.db'}"


def test_secrets_are_generated_once_into_the_instance_folder_readable_by_owner_only(tmp_path):
    app = build(tmp_path)

    secrets_file = tmp_path / "secrets.json"
    assert secrets_file.is_file()
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    stored = json.loads(secrets_file.read_text())
    assert set(stored) >= {"SECRET_KEY", "PIN_HMAC_KEY", "PIN_ENCRYPTION_KEYS"}
    assert len(stored["SECRET_KEY"]) >= 32
    assert app.config["SECRET_KEY"] == stored["SECRET_KEY"]
    assert app.config["PIN_HMAC_KEY"] == stored["PIN_HMAC_KEY"]
    assert app.config["PIN_ENCRYPTION_KEYS"] == stored["PIN_ENCRYPTION_KEYS"]


def test_second_start_reuses_the_generated_secrets(tmp_path):
    first = build(tmp_path)
    written = (tmp_path / "secrets.json").read_text()

    second = build(tmp_path)

    assert (tmp_path / "secrets.json").read_text() == written
    for name in ("SECRET_KEY", "PIN_HMAC_KEY", "PIN_ENCRYPTION_KEYS"):
        assert second.config[name] == first.config[name]


def test_two_instance_folders_get_different_secrets(tmp_path):
    one = build(tmp_path / "one")
    two = build(tmp_path / "two")

    assert one.config["SECRET_KEY"] != two.config["SECRET_KEY"]
    assert one.config["PIN_HMAC_KEY"] != two.config["PIN_HMAC_KEY"]


def test_secret_key_from_the_environment_wins_over_the_instance_file(tmp_path, monkeypatch):
    build(tmp_path)
    from_file = json.loads((tmp_path / "secrets.json").read_text())["SECRET_KEY"]
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + "z" * 32)

    app = build(tmp_path)

    assert app.config["SECRET_KEY"] == "from-the-environment-" + "z" * 32
    assert app.config["SECRET_KEY"] != from_file


def test_settings_given_by_the_caller_win_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + "z" * 32)

    app = build(tmp_path, FIXED_SECRETS)

    assert app.config["SECRET_KEY"] == FIXED_SECRETS["SECRET_KEY"]


def test_instance_config_json_is_read(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"SHOP_NAME": "Roaming Bytes"}))

    app = build(tmp_path)

    assert app.config["SHOP_NAME"] == "Roaming Bytes"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://shop:pw@127.0.0.1:5432/shop",
            "postgresql+psycopg://shop:pw@127.0.0.1:5432/shop",
        ),
        ("postgres://shop@db/shop", "postgresql+psycopg://shop@db/shop"),
    ],
)
def test_plain_postgresql_url_selects_the_psycopg3_driver(tmp_path, monkeypatch, given, expected):
    monkeypatch.setenv("DATABASE_URL", given)

    app = build(tmp_path)

    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    assert not (tmp_path / "shop.db").exists()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://shop@127.0.0.1/shop",
        "sqlite:////var/lib/shop/shop.db",
    ],
)
def test_urls_naming_a_driver_are_kept_as_given(url):
    assert normalise_database_url(url) == url


def test_empty_database_url_means_the_embedded_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "")

    app = build(tmp_path)

    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'shop.db'}"


def test_rate_limits_are_on_by_default(tmp_path):
    assert build(tmp_path).config["RATELIMIT_ENABLED"] is True


@pytest.mark.parametrize("word", ["0", "false", "no", "off", "FALSE", " 0 "])
def test_rate_limits_can_be_switched_off_from_the_environment(tmp_path, monkeypatch, word):
    monkeypatch.setenv("RATELIMIT_ENABLED", word)

    assert build(tmp_path).config["RATELIMIT_ENABLED"] is False


@pytest.mark.parametrize("word", ["1", "true", "yes", "on", "True"])
def test_true_words_parse_to_true(word):
    assert parse_env_value("RATELIMIT_ENABLED", word, bool) is True


def test_bad_boolean_is_refused_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("RATELIMIT_ENABLED", "maybe")

    with pytest.raises(ValueError, match="RATELIMIT_ENABLED") as caught:
        build(tmp_path)

    assert "maybe" in str(caught.value)


def test_bad_whole_number_is_refused_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "twenty-five")

    with pytest.raises(ValueError, match="MAIL_PORT"):
        build(tmp_path)


def test_whole_number_settings_are_parsed(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "2525")

    assert build(tmp_path).config["MAIL_PORT"] == 2525


def test_rate_limit_store_comes_from_the_environment(tmp_path, monkeypatch):
    assert build(tmp_path / "a").config["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://?from=env")

    assert build(tmp_path / "b").config["RATELIMIT_STORAGE_URI"] == "memory://?from=env"


def test_session_cookie_is_http_only_same_site_lax_and_secure_by_default(tmp_path):
    config = build(tmp_path).config

    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert config["REMEMBER_COOKIE_SECURE"] is True


def test_insecure_cookies_for_plain_http_must_be_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")

    config = build(tmp_path).config

    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["REMEMBER_COOKIE_SECURE"] is False


def test_paypal_defaults_to_the_simulator(tmp_path):
    assert build(tmp_path).config["PAYPAL_MODE"] == "simulator"


def test_workers_starting_at_once_agree_on_one_complete_set_of_secrets(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from shop.config import load_instance_secrets

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: load_instance_secrets(str(tmp_path)), range(64)))
    assert all(result == results[0] for result in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secrets.json"], "no drafts left behind"
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
