"""Payment settings: the simulator by default, real PayPal only with credentials, one gateway."""

import pytest

from shop import create_app
from shop.config import ENV_SETTINGS
from shop.payments import PaymentConfigError, get_gateway
from shop.payments.paypal import PayPalGateway
from shop.payments.settings import SIMULATOR_CLIENT_ID, paypal_settings

LIVE = {
    "PAYPAL_MODE": "live",
    "PAYPAL_CLIENT_ID": "live-id",
    "PAYPAL_CLIENT_SECRET": "live-secret",
    "PAYPAL_WEBHOOK_ID": "WH-LIVE",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in [*ENV_SETTINGS, "DATABASE_URL", "FLASK_DEBUG"]:
        monkeypatch.delenv(name, raising=False)


def build(tmp_path, **config):
    return create_app(config, instance_path=str(tmp_path))


def test_the_shop_talks_to_the_simulator_by_default(tmp_path):
    app = build(tmp_path)
    with app.app_context():
        gateway = get_gateway()
        assert gateway is get_gateway()
    assert isinstance(gateway, PayPalGateway)
    assert gateway.name == "paypal"
    assert gateway.api.endpoint == "http://127.0.0.1:5001"
    assert gateway.settings.client_id == SIMULATOR_CLIENT_ID
    assert gateway.api.timeout == 10.0


def test_paypal_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYPAL_MODE", "sandbox")
    monkeypatch.setenv("PAYPAL_CLIENT_ID", "sandbox-id")
    monkeypatch.setenv("PAYPAL_CLIENT_SECRET", "sandbox-secret")
    monkeypatch.setenv("PAYPAL_WEBHOOK_ID", "WH-SANDBOX")
    monkeypatch.setenv("PAYPAL_TIMEOUT_SECONDS", "2.5")
    app = build(tmp_path)
    with app.app_context():
        gateway = get_gateway()
    assert gateway.api.endpoint == "https://api.sandbox.paypal.com"
    assert gateway.api.timeout == 2.5
    assert [o.host for o in gateway.settings.cert_origins] == ["api.sandbox.paypal.com"]
    assert "sandbox-secret" not in repr(gateway.settings)


@pytest.mark.parametrize("mode", ["sandbox", "live"])
@pytest.mark.parametrize(
    "missing", ["PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET", "PAYPAL_WEBHOOK_ID"]
)
def test_real_paypal_without_credentials_refuses_to_start(tmp_path, mode, missing):
    config = {**LIVE, "PAYPAL_MODE": mode, missing: ""}
    with pytest.raises(PaymentConfigError, match=missing):
        build(tmp_path, **config)


@pytest.mark.parametrize(
    "config",
    [
        {"PAYPAL_MODE": "production"},
        {"PAYPAL_TIMEOUT_SECONDS": 0},
        {"PAYPAL_TIMEOUT_SECONDS": float("nan")},
        {"PAYPAL_SIMULATOR_URL": "127.0.0.1:5001"},
    ],
)
def test_settings_that_cannot_work_refuse_to_start(tmp_path, config):
    with pytest.raises(PaymentConfigError):
        build(tmp_path, **config)


def test_live_mode_talks_to_paypal_and_takes_certificates_only_from_it():
    settings = paypal_settings(LIVE)
    assert settings.endpoint == "https://api.paypal.com"
    assert [(o.scheme, o.host, o.port) for o in settings.cert_origins] == [
        ("https", "api.paypal.com", 443)
    ]
    assert settings.cert_common_name == "messageverificationcerts.paypal.com"
