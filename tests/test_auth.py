"""Accounts: login, throttling, sessions that really end, password reset, CSRF, redirects."""

import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from werkzeug.security import generate_password_hash

from shop.auth import services
from shop.auth.models import User
from shop.config import Defaults
from shop.extensions import db
from shop.mail.models import OutboxMessage
from tests.factories import PASSWORD, make_user


def post_login(client, email, password, **extra):
    return client.post("/login", data={"email": email, "password": password, **extra})


def test_login_with_correct_password_lands_on_the_account_page(client):
    user = make_user()
    response = post_login(client, user.email, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account")
    assert client.get("/account").status_code == 200


def test_login_email_is_case_insensitive(client):
    user = make_user(email="Traveller@Example.com")
    assert post_login(client, "TRAVELLER@example.COM", PASSWORD).status_code == 302
    assert user.email == "traveller@example.com"


def test_wrong_password_is_refused_with_a_message(client):
    user = make_user()
    response = post_login(client, user.email, "wrong-password-1")
    assert response.status_code == 401
    assert "not correct" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_disabled_account_cannot_log_in(client):
    user = make_user()
    user.active = False
    db.session.commit()
    assert post_login(client, user.email, PASSWORD).status_code == 401


def test_sixth_failed_login_of_one_account_is_throttled_even_with_the_right_password(client):
    user = make_user()
    for _ in range(5):
        assert post_login(client, user.email, "wrong-password-1").status_code == 401
    response = post_login(client, user.email, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.get_data(as_text=True)


def test_failures_from_one_client_across_accounts_are_throttled(client):
    for attempt in range(20):
        assert (
            post_login(client, f"nobody{attempt}@example.com", "wrong-password-1").status_code
            == 401
        )
    user = make_user()
    assert post_login(client, user.email, PASSWORD).status_code == 429


def test_a_successful_login_does_not_count_against_the_account(client):
    user = make_user()
    for _ in range(10):
        assert post_login(client, user.email, PASSWORD).status_code == 302
        client.post("/logout")


def test_login_failures_are_audited_without_the_password(client):
    from shop.audit.models import AuditEvent

    user = make_user()
    post_login(client, user.email, "secret-typo-123")
    events = (
        db.session.execute(db.select(AuditEvent).filter_by(action="user.login_failed"))
        .scalars()
        .all()
    )
    assert len(events) == 1
    assert "secret-typo-123" not in repr(events[0].details) + events[0].actor_label


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:evil.example",
    ],
)
def test_login_never_redirects_off_site(client, target):
    user = make_user()
    response = post_login(client, user.email, PASSWORD, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] in ("/account", "http://localhost/account")


def test_login_follows_a_local_next_page(client):
    user = make_user()
    response = post_login(client, user.email, PASSWORD, next="/card?number=123")
    assert response.headers["Location"].endswith("/card?number=123")


def session_cookie(client):
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_session_cookie_replayed_after_logout_is_refused(client, app):
    user = make_user()
    post_login(client, user.email, PASSWORD)
    stolen = session_cookie(client)
    assert client.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/account").status_code == 302


def test_session_cookie_replayed_after_password_change_is_refused(client, app):
    user = make_user()
    post_login(client, user.email, PASSWORD)
    other_device = app.test_client()
    other_device.set_cookie("session", session_cookie(client))
    assert other_device.get("/account").status_code == 200
    response = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": "new-password-42", "confirm": "new-password-42"},
    )
    assert response.status_code == 302
    assert client.get("/account").status_code == 200, "the device that changed it stays logged in"
    assert other_device.get("/account").status_code == 302


def test_password_change_with_wrong_current_password_changes_nothing(client):
    user = make_user()
    post_login(client, user.email, PASSWORD)
    old_hash = user.password_hash
    response = client.post(
        "/account/password",
        data={
            "current": "not-it-at-all",
            "password": "new-password-42",
            "confirm": "new-password-42",
        },
    )
    assert response.status_code == 400
    db.session.refresh(user)
    assert user.password_hash == old_hash


def test_passwords_are_stored_as_scrypt_hashes(app):
    user = make_user()
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash


def reset_link_from_outbox(email):
    message = db.session.execute(
        db.select(OutboxMessage).filter_by(recipient=email, kind="password_reset")
    ).scalar_one()
    match = re.search(r"(/password/reset/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def test_password_reset_round_trip(client):
    user = make_user()
    response = client.post("/password/forgot", data={"email": user.email})
    assert response.status_code == 302
    link = reset_link_from_outbox(user.email)
    assert client.get(link).status_code == 200
    response = client.post(
        link, data={"password": "brand-new-pass-7", "confirm": "brand-new-pass-7"}
    )
    assert response.status_code == 302
    assert post_login(client, user.email, PASSWORD).status_code == 401
    assert post_login(client, user.email, "brand-new-pass-7").status_code == 302


def test_reset_link_works_only_once(client):
    user = make_user()
    client.post("/password/forgot", data={"email": user.email})
    link = reset_link_from_outbox(user.email)
    client.post(link, data={"password": "brand-new-pass-7", "confirm": "brand-new-pass-7"})
    response = client.post(link, data={"password": "another-pass-88", "confirm": "another-pass-88"})
    assert response.status_code == 302
    assert "/password/forgot" in response.headers["Location"]
    assert post_login(client, user.email, "another-pass-88").status_code == 401


def test_expired_reset_link_is_refused(client, app):
    user = make_user()
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    token = services.make_reset_token(user)
    response = client.get(f"/password/reset/{token}")
    assert response.status_code == 302
    with pytest.raises(services.InvalidResetLink):
        services.user_for_reset_token(token)


def test_forged_reset_token_is_refused(client, app):
    user = make_user()
    forged = URLSafeTimedSerializer("not-the-secret", salt="password-reset").dumps(
        {"uid": user.id, "fp": "x"}
    )
    assert client.get(f"/password/reset/{forged}").status_code == 302
    assert client.get("/password/reset/garbage").status_code == 302


def test_reset_request_for_unknown_email_reveals_nothing_and_sends_nothing(client):
    response = client.post("/password/forgot", data={"email": "ghost@example.com"})
    assert response.status_code == 302
    assert db.session.execute(db.select(OutboxMessage)).first() is None


def test_registration_creates_a_customer_and_logs_in(client):
    response = client.post(
        "/register",
        data={"email": "new@example.com", "password": "long-enough-1", "confirm": "long-enough-1"},
    )
    assert response.status_code == 302
    user = db.session.execute(db.select(User).filter_by(email="new@example.com")).scalar_one()
    assert user.role.value == "customer"
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize(
    ("email", "password", "confirm", "message"),
    [
        ("not-an-email", "long-enough-1", "long-enough-1", "valid e-mail"),
        ("a@example.com", "short", "short", "10"),
        ("a@example.com", "long-enough-1", "different-22", "do not match"),
    ],
)
def test_registration_with_bad_input_explains_and_creates_nothing(
    client, email, password, confirm, message
):
    response = client.post(
        "/register", data={"email": email, "password": password, "confirm": confirm}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.execute(db.select(User)).first() is None


def test_registration_with_taken_email_is_refused(client):
    make_user(email="taken@example.com")
    response = client.post(
        "/register",
        data={
            "email": "taken@example.com",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
        },
    )
    assert response.status_code == 400
    assert "exists already" in response.get_data(as_text=True)


@pytest.fixture
def csrf_client(database_url, tmp_path):
    from shop import create_app
    from tests.conftest import make_config

    application = create_app(
        make_config(database_url, WTF_CSRF_ENABLED=True), instance_path=str(tmp_path / "csrf")
    )
    with application.app_context():
        yield application.test_client()
        db.session.remove()
        db.engine.dispose()


def test_form_post_without_csrf_token_is_rejected_and_changes_nothing(csrf_client):
    response = csrf_client.post(
        "/register",
        data={"email": "x@example.com", "password": "long-enough-1", "confirm": "long-enough-1"},
    )
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)
    assert db.session.execute(db.select(User)).first() is None


def test_form_post_with_the_pages_csrf_token_is_accepted(csrf_client):
    page = csrf_client.get("/register").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert token, "the registration form carries a CSRF token"
    response = csrf_client.post(
        "/register",
        data={
            "email": "x@example.com",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
            "csrf_token": token.group(1),
        },
    )
    assert response.status_code == 302


def test_session_cookie_is_httponly_samesite_and_secure(client):
    user = make_user()
    response = post_login(client, user.email, PASSWORD)
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_logout_needs_a_post(client):
    user = make_user()
    post_login(client, user.email, PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.get("/account").status_code == 200


def test_the_shop_hashes_passwords_with_scrypt_at_its_full_cost():
    # The suite sets a cheaper scrypt for speed (tests/conftest.py); the shop itself never does.
    assert Defaults.PASSWORD_HASH_METHOD == "scrypt"
    assert generate_password_hash("x", method=Defaults.PASSWORD_HASH_METHOD).startswith(
        "scrypt:32768:8:1$"
    )
