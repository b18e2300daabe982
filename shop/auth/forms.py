"""Forms of the account pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

EMAIL_FIELD = {
    "validators": [DataRequired(), Length(max=254)],
    "render_kw": {"autocomplete": "email"},
}


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(_l("E-mail"), **EMAIL_FIELD)
    password = PasswordField(
        _l("Password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = HiddenField()
    submit = SubmitField(_l("Log in"))


def _new_password_field(label):
    return PasswordField(
        label,
        validators=[DataRequired(), Length(min=10, max=200)],
        render_kw={"autocomplete": "new-password"},
    )


class RegistrationForm(FlaskForm):
    """Customer sign-up."""

    email = EmailField(_l("E-mail"), **EMAIL_FIELD)
    password = _new_password_field(_l("Password (at least 10 characters)"))
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Create account"))


class ForgotPasswordForm(FlaskForm):
    """Ask for a reset link."""

    email = EmailField(_l("E-mail"), **EMAIL_FIELD)
    submit = SubmitField(_l("Send reset link"))


class ResetPasswordForm(FlaskForm):
    """Choose a new password through a reset link."""

    password = _new_password_field(_l("New password (at least 10 characters)"))
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Set new password"))


class ChangePasswordForm(FlaskForm):
    """Change the password while logged in."""

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    password = _new_password_field(_l("New password (at least 10 characters)"))
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))


class PhoneForm(FlaskForm):
    """The mobile number that gets text messages (codes at payment, alerts)."""

    phone = StringField(
        _l("Mobile number, with its country code (empty: none)"),
        validators=[Optional(), Length(max=32)],
        render_kw={"autocomplete": "tel", "inputmode": "tel", "placeholder": "+66 81 234 5678"},
    )
    submit = SubmitField(_l("Save the number"))
