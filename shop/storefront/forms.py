"""Forms of the cart, the checkout, the customer's saved cards and the promotion admin."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from shop.cards.forms import CARD_NUMBER_RENDER
from shop.storefront.models import Delivery, PaymentMethod, PromotionKind

SKU_FIELD = {"validators": [DataRequired(), Length(max=40)]}


class AddToCartForm(FlaskForm):
    """Put a pack in the cart (pack page and catalog)."""

    sku = HiddenField(**SKU_FIELD)
    quantity = IntegerField(
        _l("Quantity"),
        default=1,
        validators=[
            DataRequired(_l("Type how many you want.")),
            NumberRange(min=1, max=100, message=_l("From 1 to 100.")),
        ],
        render_kw={"inputmode": "numeric", "min": 1, "max": 100},
    )
    submit = SubmitField(_l("Add to cart"))


class CartLineForm(FlaskForm):
    """Change a pack's quantity in the cart, or remove it."""

    sku = HiddenField(**SKU_FIELD)
    quantity = IntegerField(
        _l("Quantity"),
        validators=[
            DataRequired(_l("Type how many you want.")),
            NumberRange(min=1, max=100, message=_l("From 1 to 100.")),
        ],
        render_kw={"inputmode": "numeric", "min": 1, "max": 100},
    )
    update = SubmitField(_l("Update"))


class CartRemoveForm(FlaskForm):
    """Take a pack out of the cart."""

    sku = HiddenField(**SKU_FIELD)
    remove = SubmitField(_l("Remove"))


class PromotionCodeForm(FlaskForm):
    """Apply a promotion code to the cart."""

    code = StringField(
        _l("Promotion code"),
        validators=[Optional(), Length(max=32)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"},
    )
    apply = SubmitField(_l("Apply"))


class CheckoutForm(FlaskForm):
    """What the buyer confirms before paying: delivery, e-mail, card, promotion code."""

    delivery = RadioField(
        _l("What would you like?"),
        choices=[
            SelectChoice(Delivery.VOUCHERS.value, _l("PIN vouchers, to keep or give away")),
            SelectChoice(Delivery.TOPUP.value, _l("Top up my card now")),
        ],
        default=Delivery.VOUCHERS.value,
        validators=[DataRequired(_l("Choose how you want your packs."))],
    )
    card_number = StringField(
        _l("Card to top up (ICCID or phone number)"),
        validators=[Optional(), Length(max=40)],
        description=_l("Only for “Top up my card now”."),
        render_kw=CARD_NUMBER_RENDER,
    )
    email = EmailField(
        _l("E-mail for your receipt and PINs"),
        validators=[
            DataRequired(_l("Type your e-mail address.")),
            Email(_l("This is not a valid e-mail address.")),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email"},
    )
    promotion_code = StringField(
        _l("Promotion code"),
        validators=[Optional(), Length(max=32)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters"},
    )
    payment_method = RadioField(
        _l("How would you like to pay?"),
        choices=[
            SelectChoice(PaymentMethod.PAYPAL.value, _l("PayPal (PayPal account or card)")),
            SelectChoice(PaymentMethod.ALIPAY.value, _l("Alipay (CNY)")),
            SelectChoice(PaymentMethod.WECHATPAY.value, _l("WeChat Pay (CNY)")),
        ],
        default=PaymentMethod.PAYPAL.value,
        # Optional: a client that sends no choice (older pages, scripts) pays with PayPal.
        validators=[Optional()],
    )
    submit = SubmitField(_l("Review order"))


class SaveCardForm(FlaskForm):
    """Add a card to the customer's account."""

    number = StringField(
        _l("Card number (ICCID) or phone number"),
        validators=[DataRequired(), Length(max=40)],
        render_kw=CARD_NUMBER_RENDER,
    )
    label = StringField(
        _l("Name for this card (optional)"),
        validators=[Optional(), Length(max=60)],
        render_kw={"placeholder": _l("e.g. Travel eSIM")},
    )
    submit = SubmitField(_l("Save card"))


class PromotionForm(FlaskForm):
    """Create a promotion code (admin)."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(min=3, max=32)],
        render_kw={"autocapitalize": "characters", "autocomplete": "off"},
    )
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    kind = SelectField(
        _l("Discount"),
        choices=[
            SelectChoice(PromotionKind.PERCENT.value, _l("Percentage off")),
            SelectChoice(PromotionKind.AMOUNT.value, _l("Amount off")),
        ],
    )
    percent = StringField(
        _l("Percentage off"),
        validators=[Optional(), Length(max=6)],
        description=_l("For a percentage: for example 15 or 12.5."),
        render_kw={"inputmode": "decimal"},
    )
    amount_off = StringField(
        _l("Amount off"),
        validators=[Optional(), Length(max=12)],
        description=_l("For an amount: in the currency below, for example 5.00."),
        render_kw={"inputmode": "decimal"},
    )
    currency = SelectField(_l("Currency"), choices=[])
    min_total = StringField(
        _l("Minimum order total"),
        default="0",
        validators=[Optional(), Length(max=12)],
        description=_l("Of the packs the code applies to; 0 for none."),
        render_kw={"inputmode": "decimal"},
    )
    valid_from = DateTimeLocalField(
        _l("Valid from (UTC)"), validators=[Optional()], format="%Y-%m-%dT%H:%M"
    )
    valid_until = DateTimeLocalField(
        _l("Valid until (UTC)"), validators=[Optional()], format="%Y-%m-%dT%H:%M"
    )
    max_uses = IntegerField(
        _l("Uses in all"),
        validators=[Optional(), NumberRange(min=1, max=10_000_000)],
        description=_l("Empty for no limit."),
    )
    max_uses_per_customer = IntegerField(
        _l("Uses per customer"),
        validators=[Optional(), NumberRange(min=1, max=1000)],
        description=_l("Empty for no limit."),
    )
    skus = SelectMultipleField(
        _l("Only for these packs"),
        choices=[],
        validators=[Optional()],
        description=_l("Select none for every pack."),
    )
    submit = SubmitField(_l("Create promotion"))
