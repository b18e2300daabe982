"""Accounts: creating users, logging in and out, changing and resetting passwords."""

import hashlib
import hmac
import logging
from collections.abc import Callable
from functools import cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from shop.audit.services import Actor, record_event
from shop.auth.models import Role, User, new_session_token
from shop.db import begin_write
from shop.extensions import db
from shop.mail.services import send_mail
from shop.messaging.phones import normalise_phone
from shop.throttle import FailureLimit, reserve_all
from shop.timeutil import utcnow

log = logging.getLogger(__name__)

RESET_SALT = "password-reset"


@cache
def _dummy_hash(method: str) -> str:
    """Return the hash compared against when the e-mail is unknown, so both paths cost the same."""
    return generate_password_hash("not-a-real-password", method=method)


class AccountError(Exception):
    """Base of the errors a user can fix."""


class InvalidEmail(AccountError):
    """The e-mail address is not usable."""


class EmailTaken(AccountError):
    """Another account already uses this e-mail."""


class WeakPassword(AccountError):
    """The password does not meet the policy; ``problem`` says which rule it broke."""

    def __init__(self, problem: str, message: str):
        super().__init__(message)
        self.problem = problem


class AgentRequired(AccountError):
    """An agent role needs an existing agent; other roles must not have one."""


class InvalidCredentials(AccountError):
    """Unknown e-mail, wrong password or disabled account (deliberately not told apart)."""


class WrongCurrentPassword(AccountError):
    """The current password given for a change is wrong."""


class InvalidResetLink(AccountError):
    """The reset link is malformed, expired or already used."""


def normalise_email(email: str) -> str:
    """Return the canonical form of an e-mail address or raise :class:`InvalidEmail`."""
    try:
        result = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return result.normalized.lower()


def check_password_policy(password: str, email: str = "") -> None:
    """Raise :class:`WeakPassword` unless the password is long enough and not the e-mail."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password or "") < minimum:
        raise WeakPassword("too_short", f"at least {minimum} characters")
    if len(password) > 200:
        raise WeakPassword("too_long", "at most 200 characters")
    if email and password.strip().lower() == email.lower():
        raise WeakPassword("is_email", "must not be your e-mail address")


def hash_password(password: str) -> str:
    """Return a salted hash of ``password`` by the configured method (scrypt)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_user_by_email(email: str) -> User | None:
    """Return the user with this e-mail, or None."""
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    return db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()


def create_user(
    email: str,
    password: str,
    role: Role,
    *,
    agent_id: int | None = None,
    actor: Actor | None = None,
    commit: bool = True,
) -> User:
    """Create an account; agent roles need the ``agent_id`` of their agent.

    The caller looks the agent up (agents sit above accounts, so this package never reads them).
    ``commit=False`` adds it to the caller's write transaction, which the caller commits.
    """
    if commit:
        begin_write(db.session)
    email = normalise_email(email)
    check_password_policy(password, email)
    if role.is_agent_role and agent_id is None:
        raise AgentRequired("an agent role needs an agent code")
    if not role.is_agent_role and agent_id is not None:
        raise AgentRequired(f"role {role.value} does not belong to an agent")
    if find_user_by_email(email) is not None:
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        agent_id=agent_id,
    )
    db.session.add(user)
    db.session.flush()
    record_event(
        "user.created",
        actor,
        object_type="user",
        object_id=user.id,
        agent_id=user.agent_id,
        details={"role": role.value},
    )
    if commit:
        db.session.commit()
    return user


def register_customer(email: str, password: str, ip_address: str = "") -> User:
    """Sign up a customer from the registration page."""
    return create_user(
        email, password, Role.CUSTOMER, actor=Actor(label="self", ip_address=ip_address)
    )


def _login_limits() -> tuple[FailureLimit, FailureLimit]:
    config = current_app.config
    return (
        FailureLimit("login-account", config["LOGIN_FAILURES_PER_ACCOUNT"]),
        FailureLimit("login-client", config["LOGIN_FAILURES_PER_CLIENT"]),
    )


def authenticate(email: str, password: str, ip_address: str) -> User:
    """Return the user for these credentials and record the login, or raise.

    The attempt is counted against the account and the client address before the password is
    checked; :class:`shop.throttle.Throttled` means either has failed too often.
    """
    begin_write(db.session)
    per_account, per_client = _login_limits()
    account_key = (email or "").strip().lower()[:254]
    reserve_all([(per_account, account_key), (per_client, ip_address)])
    user = find_user_by_email(email)
    stored = user.password_hash if user else _dummy_hash(current_app.config["PASSWORD_HASH_METHOD"])
    password_ok = check_password_hash(stored, password or "")
    if user is None or not password_ok or not user.active:
        record_event(
            "user.login_failed",
            Actor(label=account_key[:64], ip_address=ip_address),
            object_type="user",
            object_id=user.id if user else "",
        )
        db.session.commit()
        raise InvalidCredentials()
    per_account.reset(account_key)
    per_client.release(ip_address)
    user.last_login_at = utcnow()
    record_event(
        "user.login", Actor.for_user(user, ip_address), object_type="user", object_id=user.id
    )
    db.session.commit()
    return user


def end_session(user: User, ip_address: str = "") -> None:
    """Log the user out everywhere: rotating the token kills every cookie issued so far."""
    begin_write(db.session)
    user.session_token = new_session_token()
    record_event(
        "user.logout", Actor.for_user(user, ip_address), object_type="user", object_id=user.id
    )
    db.session.commit()


def _set_password(user: User, new_password: str) -> None:
    check_password_policy(new_password, user.email)
    user.password_hash = hash_password(new_password)
    user.session_token = new_session_token()


def change_password(
    user: User, current_password: str, new_password: str, ip_address: str = ""
) -> None:
    """Change the password after checking the current one; other sessions end."""
    begin_write(db.session)
    if not check_password_hash(user.password_hash, current_password or ""):
        raise WrongCurrentPassword()
    _set_password(user, new_password)
    record_event(
        "user.password_changed",
        Actor.for_user(user, ip_address),
        object_type="user",
        object_id=user.id,
    )
    db.session.commit()


def set_phone(user: User, phone: str, ip_address: str = "") -> str:
    """Save the user's mobile number as E.164 (empty removes it) and commit; return it.

    Raises ``InvalidPhone`` with the reason.
    """
    number = normalise_phone(phone) if (phone or "").strip() else ""
    begin_write(db.session)
    user.phone = number
    record_event(
        "user.phone_changed",
        Actor.for_user(user, ip_address),
        object_type="user",
        object_id=user.id,
        details={"phone": number},
    )
    db.session.commit()
    return number


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _password_fingerprint(user: User) -> str:
    """Return a digest that changes whenever the password does, making reset links single-use."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def make_reset_token(user: User) -> str:
    """Return a signed token that resets this user's current password."""
    return _reset_serializer().dumps({"uid": user.id, "fp": _password_fingerprint(user)})


def request_password_reset(
    email: str, link_for: Callable[[str], str], ip_address: str = ""
) -> None:
    """E-mail a reset link if the account exists; say nothing either way to the caller."""
    begin_write(db.session)
    user = find_user_by_email(email)
    if user is None or not user.active:
        log.info("password reset asked for an unknown or disabled account")
        return
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    body = (
        f"Someone asked to reset the password of {user.email} at "
        f"{current_app.config['SHOP_NAME']}.\n\n"
        f"Open this link within {minutes} minutes to choose a new password:\n"
        f"{link_for(make_reset_token(user))}\n\n"
        "If it was not you, ignore this mail; your password stays as it is.\n"
    )
    send_mail(user.email, "Reset your password", body, kind="password_reset")
    record_event(
        "user.password_reset_requested",
        Actor(label="self", ip_address=ip_address),
        object_type="user",
        object_id=user.id,
    )
    db.session.commit()


def user_for_reset_token(token: str) -> User:
    """Return the user a valid, unused, unexpired reset token belongs to."""
    try:
        payload = _reset_serializer().loads(
            token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"]
        )
    except SignatureExpired:
        raise InvalidResetLink("expired") from None
    except BadSignature:
        raise InvalidResetLink("invalid") from None
    if not isinstance(payload, dict):
        raise InvalidResetLink("invalid")
    user = db.session.get(User, payload.get("uid")) if isinstance(payload.get("uid"), int) else None
    if user is None or not user.active:
        raise InvalidResetLink("invalid")
    if not hmac.compare_digest(str(payload.get("fp")), _password_fingerprint(user)):
        raise InvalidResetLink("used")
    return user


def reset_password(token: str, new_password: str, ip_address: str = "") -> User:
    """Set a new password through a reset link; the link and every session die with it."""
    begin_write(db.session)
    user = user_for_reset_token(token)
    _set_password(user, new_password)
    record_event(
        "user.password_reset",
        Actor(label="reset-link", ip_address=ip_address),
        object_type="user",
        object_id=user.id,
    )
    db.session.commit()
    return user


def load_user_by_session_token(token: str) -> User | None:
    """Return the active user whose current session token this is."""
    if not token:
        return None
    user = db.session.execute(db.select(User).filter_by(session_token=token)).scalar_one_or_none()
    if user is None or not user.active:
        return None
    return user


class UserNotFound(AccountError):
    """No such user (of this agent)."""


def set_user_active(
    user_id: int, active: bool, *, agent_id: int | None = None, actor: Actor | None = None
) -> User:
    """Deactivate or reactivate an account and commit; ``agent_id`` limits it to that agent's staff.

    Deactivating also ends every session of the account.
    """
    begin_write(db.session)
    user = db.session.get(User, user_id)
    if user is None or (agent_id is not None and user.agent_id != agent_id):
        raise UserNotFound(str(user_id))
    if user.active != active:
        user.active = active
        if not active:
            user.session_token = new_session_token()
        record_event(
            "user.activated" if active else "user.deactivated",
            actor,
            object_type="user",
            object_id=user.id,
            agent_id=user.agent_id,
        )
        db.session.commit()
    return user
