"""Forms of the redeem page and the admin's voucher pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from shop.cards.forms import CARD_NUMBER_RENDER
from shop.vouchers.batches import DEFAULT_SHELF_LIFE_DAYS

#: Web batches are generated within the request; the CLI handles larger ones.
MAX_WEB_BATCH = 100_000


class RedeemForm(FlaskForm):
    """PIN and card number."""

    pin = StringField(
        _l("Voucher PIN (16 digits)"),
        validators=[DataRequired(), Length(max=40)],
        render_kw={
            "inputmode": "numeric",
            "autocomplete": "off",
            "placeholder": "1234 5678 9012 3456",
        },
    )
    card = StringField(
        _l("Card number (ICCID) or phone number"),
        validators=[DataRequired(), Length(max=40)],
        render_kw=CARD_NUMBER_RENDER,
    )
    serial = HiddenField()
    submit = SubmitField(_l("Redeem"))


class GenerateBatchForm(FlaskForm):
    """Generate a batch of vouchers (admin)."""

    sku = StringField(_l("Pack SKU"), validators=[DataRequired(), Length(max=40)])
    count = IntegerField(
        _l("Number of vouchers"),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_WEB_BATCH)],
    )
    agent = StringField(
        _l("Agent code (empty: the operator's own stock)"), validators=[Optional(), Length(max=32)]
    )
    inactive = BooleanField(_l("Pre-printed stock: inactive until sold at the counter"))
    shelf_life_days = IntegerField(
        _l("Shelf life of the PINs (days)"),
        default=DEFAULT_SHELF_LIFE_DAYS,
        validators=[InputRequired(), NumberRange(min=1, max=3660)],
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Generate vouchers"))


class DisableVouchersForm(FlaskForm):
    """Disable a batch, or a serial range of it (lost or stolen stock)."""

    first_serial = StringField(
        _l("First serial (empty: from the start)"), validators=[Optional(), Length(max=20)]
    )
    last_serial = StringField(
        _l("Last serial (empty: to the end)"), validators=[Optional(), Length(max=20)]
    )
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Disable these vouchers"))


class SerialSearchForm(FlaskForm):
    """Find a voucher by its serial (a GET form)."""

    class Meta:  # noqa: D106 - WTForms options
        csrf = False

    serial = StringField(_l("Serial"), validators=[DataRequired(), Length(max=30)])
    submit = SubmitField(_l("Find voucher"))
