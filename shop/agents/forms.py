"""Forms of the counter and the agent admin pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from shop.agents.sales import MAX_SALE_QUANTITY
from shop.cards.forms import CARD_NUMBER_RENDER

PIN_RENDER = {"inputmode": "numeric", "autocomplete": "off", "placeholder": "1234 5678 9012 3456"}


class SellForm(FlaskForm):
    """Sell vouchers of one pack."""

    sku = SelectField(_l("Pack"), validators=[DataRequired()], choices=[])
    quantity = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[InputRequired(), NumberRange(min=1, max=MAX_SALE_QUANTITY)],
    )
    submit = SubmitField(_l("Sell and print"))


class CounterRedeemForm(FlaskForm):
    """Redeem a customer's PIN onto their card."""

    pin = StringField(
        _l("Voucher PIN"), validators=[DataRequired(), Length(max=40)], render_kw=PIN_RENDER
    )
    card = StringField(
        _l("Customer's card number or phone number"),
        validators=[DataRequired(), Length(max=40)],
        render_kw=CARD_NUMBER_RENDER,
    )
    submit = SubmitField(_l("Redeem onto the card"))


class CounterTopUpForm(FlaskForm):
    """Top a card up directly, without a voucher.

    It shares the counter page with the sale and redeem forms: its fields get ids of their own
    so that each label names its own control.
    """

    sku = SelectField(_l("Pack"), validators=[DataRequired()], choices=[], id="topup-sku")
    card = StringField(
        _l("Customer's card number or phone number"),
        validators=[DataRequired(), Length(max=40)],
        render_kw=CARD_NUMBER_RENDER,
        id="topup-card",
    )
    submit = SubmitField(_l("Top up the card"))


class SerialForm(FlaskForm):
    """Find a voucher by its serial (a GET form)."""

    class Meta:  # noqa: D106 - WTForms options
        csrf = False

    serial = StringField(
        _l("Voucher serial"),
        validators=[DataRequired(), Length(max=30)],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    submit = SubmitField(_l("Find"))


class AgentForm(FlaskForm):
    """Create an agent (admin)."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(min=2, max=32),
            Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
                message=_l("Letters, digits, dashes and underscores."),
            ),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    discount_bps = IntegerField(
        _l("Discount (basis points, 1000 = 10 %)"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=10_000)],
    )
    credit_limit = IntegerField(
        _l("Credit limit (minor units, 5000 = 50.00)"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=100_000_000)],
    )
    submit = SubmitField(_l("Create agent"))


class CreditForm(FlaskForm):
    """Add float to an agent (a credit purchase)."""

    amount = IntegerField(
        _l("Amount (minor units, 10000 = 100.00)"),
        validators=[InputRequired(), NumberRange(min=1, max=100_000_000)],
    )
    note = StringField(_l("Note (payment reference)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Add float"))


class StaffForm(FlaskForm):
    """Add a counter staff account (manager)."""

    email = StringField(
        _l("E-mail"),
        validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "off"},
    )
    password = StringField(
        _l("First password (at least 10 characters; they can change it)"),
        validators=[DataRequired(), Length(min=10, max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Add staff member"))


class ApiKeyForm(FlaskForm):
    """Create an API key (manager)."""

    label = StringField(_l("Label (e.g. the till's name)"), validators=[Optional(), Length(max=80)])
    submit = SubmitField(_l("Create API key"))


class FloatRequestForm(FlaskForm):
    """Ask the operator for more float (manager)."""

    amount = StringField(
        _l("Amount (e.g. 250.00)"),
        validators=[
            DataRequired(),
            Regexp(r"^\s*\d{1,7}(\.\d{1,2})?\s*$", message=_l("An amount such as 250.00.")),
        ],
    )
    payment_reference = StringField(
        _l("Payment reference (bank transfer, receipt number)"),
        validators=[DataRequired(), Length(max=80)],
    )
    proof = FileField(_l("Proof of payment (PDF, PNG or JPEG, at most 5 MB; optional)"))
    submit = SubmitField(_l("Send request"))


class DecisionForm(FlaskForm):
    """Approve or reject a float request (admin)."""

    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class TermsForm(FlaskForm):
    """Change an agent's discount and credit limit (the admin, or a parent's manager)."""

    discount_bps = IntegerField(
        _l("Discount (basis points, 1000 = 10 %)"),
        validators=[InputRequired(), NumberRange(min=0, max=10_000)],
    )
    credit_limit = IntegerField(
        _l("Credit limit (minor units, 5000 = 50.00)"),
        validators=[InputRequired(), NumberRange(min=0, max=100_000_000)],
    )
    submit = SubmitField(_l("Save terms"))


class SendPinForm(FlaskForm):
    """Send a sold voucher's PIN to the customer's phone."""

    phone = StringField(
        _l("Customer's mobile number, with its country code"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "off", "inputmode": "tel", "placeholder": "+66 81 234 5678"},
    )
    submit = SubmitField(_l("Send the PIN by text message"))
