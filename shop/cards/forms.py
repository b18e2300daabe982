"""Forms of the card pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from shop.cards.models import CardStatus

#: What to tell a person about each problem :class:`InvalidCardNumber` reports.
CARD_NUMBER_PROBLEMS = {
    "not_text": _l("Type the card number."),
    "phone_format": _l("A phone number is + and 8 to 15 digits, country code first."),
    "characters": _l("An ICCID has only digits; a phone number starts with +."),
    "iccid_length": _l("An ICCID has 18 to 22 digits."),
    "iccid_check_digit": _l("The ICCID's check digit is wrong; check for a mistyped digit."),
}


def card_number_problem(exc) -> str:
    """Return the translated message for an invalid card number."""
    return str(CARD_NUMBER_PROBLEMS.get(exc.problem, _l("This is not a valid card number.")))


CARD_NUMBER_RENDER = {
    "inputmode": "tel",
    "autocomplete": "off",
    "placeholder": "8944 1234 5678 9012 345",
}


class CardLookupForm(FlaskForm):
    """Type a card number to see its balance (a GET form, so no CSRF token)."""

    class Meta:  # noqa: D106 - WTForms options
        csrf = False

    number = StringField(
        _l("Card number (ICCID) or phone number"),
        validators=[DataRequired(), Length(max=40)],
        render_kw=CARD_NUMBER_RENDER,
    )
    submit = SubmitField(_l("Check balance"))


class CardCreateForm(FlaskForm):
    """Register a card (admin)."""

    number = StringField(
        _l("Card number (ICCID) or phone number"),
        validators=[DataRequired(), Length(max=40)],
        render_kw=CARD_NUMBER_RENDER,
    )
    region = StringField(_l("Region"), validators=[Optional(), Length(max=60)])
    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice(CardStatus.ACTIVE.value, _l("Active")),
            SelectChoice(CardStatus.SUSPENDED.value, _l("Suspended")),
        ],
        default=CardStatus.ACTIVE.value,
    )
    submit = SubmitField(_l("Register card"))
