"""Account pages: register, log in and out, reset and change the password."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from shop.auth import services
from shop.auth.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    PhoneForm,
    RegistrationForm,
    ResetPasswordForm,
)
from shop.auth.models import Role
from shop.messaging.phones import InvalidPhone
from shop.throttle import Throttled
from shop.web import client_ip, safe_next

bp = Blueprint("auth", __name__)


def _landing_endpoint(user) -> str:
    if user.role == Role.ADMIN:
        return "admin.index"
    if user.role.is_agent_role:
        return "agents.counter"
    return "auth.account"


def _policy_message(exc: services.WeakPassword) -> str:
    if exc.problem == "too_short":
        return _(
            "The password needs at least %(count)d characters.",
            count=current_app.config["PASSWORD_MIN_LENGTH"],
        )
    if exc.problem == "is_email":
        return _("The password must not be your e-mail address.")
    return _("The password can have at most 200 characters.")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with e-mail and password."""
    if current_user.is_authenticated:
        return redirect(url_for(_landing_endpoint(current_user)))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data, client_ip())
        except Throttled as exc:
            minutes = max(1, exc.retry_after // 60)
            flash(
                _("Too many failed logins. Try again in %(minutes)d minutes.", minutes=minutes),
                "error",
            )
            status = 429
        except services.InvalidCredentials:
            flash(_("The e-mail or password is not correct."), "error")
            status = 401
        else:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(form.next.data, _landing_endpoint(user)))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End the session everywhere."""
    services.end_session(current_user, client_ip())
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("catalog.home"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create a customer account."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            user = services.register_customer(form.email.data, form.password.data, client_ip())
        except services.InvalidEmail:
            form.email.errors.append(_("This is not a valid e-mail address."))
        except services.EmailTaken:
            form.email.errors.append(
                _("An account with this e-mail exists already. Log in instead.")
            )
        except services.WeakPassword as exc:
            form.password.errors.append(_policy_message(exc))
        else:
            login_user(user)
            flash(_("Welcome! Your account is ready."), "success")
            return redirect(url_for("auth.account"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a password reset link by e-mail."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(
            form.email.data,
            lambda token: url_for("auth.reset_password", token=token, _external=True),
            client_ip(),
        )
        flash(
            _("If an account exists for that address, we have e-mailed a reset link."),
            "info",
        )
        return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    """Choose a new password through an e-mailed link."""
    try:
        services.user_for_reset_token(token)
    except services.InvalidResetLink:
        flash(_("This reset link is invalid, expired or already used. Ask for a new one."), "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data, client_ip())
        except services.WeakPassword as exc:
            form.password.errors.append(_policy_message(exc))
        except services.InvalidResetLink:
            flash(
                _("This reset link is invalid, expired or already used. Ask for a new one."),
                "error",
            )
            return redirect(url_for("auth.forgot_password"))
        else:
            logout_user()
            flash(_("Your password is changed. Log in with the new one."), "success")
            return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_password.html", form=form), status


@bp.route("/account")
@login_required
def account():
    """Show the logged-in user's own page."""
    return render_template("auth/account.html", phone_form=PhoneForm(phone=current_user.phone))


@bp.route("/account/phone", methods=["POST"])
@login_required
def change_phone():
    """Save the mobile number that gets text messages."""
    form = PhoneForm()
    if form.validate_on_submit():
        try:
            number = services.set_phone(current_user, form.phone.data or "", client_ip())
        except InvalidPhone:
            form.phone.errors.append(
                _("Type a mobile number with its country code, such as +66 81 234 5678.")
            )
        else:
            if number:
                flash(_("Text messages now go to %(phone)s.", phone=number), "success")
            else:
                flash(_("No text messages will be sent to you."), "success")
            return redirect(url_for("auth.account"), 303)
    return render_template("auth/account.html", phone_form=form), 422


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the password; every other session ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user, form.current.data, form.password.data, client_ip()
            )
        except services.WrongCurrentPassword:
            form.current.errors.append(_("The current password is not correct."))
        except services.WeakPassword as exc:
            form.password.errors.append(_policy_message(exc))
        else:
            login_user(current_user._get_current_object())
            flash(_("Your password is changed. Other devices are logged out."), "success")
            return redirect(url_for("auth.account"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status
