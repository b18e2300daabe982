"""Forms of the cart, the checkout, the customer's saved cards and the promotion admin."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
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
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from shop.cards.forms import CARD_NUMBER_RENDER
from shop.money import CURRENCIES
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
            SelectChoice(PaymentMethod.WALLET.value, _l("My wallet")),
        ],
        default=PaymentMethod.PAYPAL.value,
        # Optional: a client that sends no choice (older pages, scripts) pays with PayPal.
        validators=[Optional()],
    )
    submit = SubmitField(_l("Review order"))


class WalletTopUpForm(FlaskForm):
    """Add money to the customer's wallet: currency, amount and how to pay."""

    currency = SelectField(
        _l("Currency"), choices=[SelectChoice(code, code) for code in CURRENCIES], default="USD"
    )
    amount = StringField(
        _l("Amount"),
        validators=[DataRequired(_l("Type the amount to add, such as 20.00.")), Length(max=20)],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    payment_method = RadioField(
        _l("How would you like to pay?"),
        choices=[
            SelectChoice(PaymentMethod.PAYPAL.value, _l("PayPal (PayPal account or card)")),
            SelectChoice(PaymentMethod.ALIPAY.value, _l("Alipay (CNY)")),
            SelectChoice(PaymentMethod.WECHATPAY.value, _l("WeChat Pay (CNY)")),
        ],
        default=PaymentMethod.PAYPAL.value,
        validators=[DataRequired(_l("Choose how to pay."))],
    )
    submit = SubmitField(_l("Review top-up"))


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


class PaymentCodeForm(FlaskForm):
    """The one-time code the buyer was sent before paying."""

    code = StringField(
        _l("One-time code"),
        validators=[DataRequired(_l("Type the code we sent you.")), Length(max=12)],
        render_kw={
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "pattern": "[0-9 ]*",
            "maxlength": 12,
        },
    )
    submit = SubmitField(_l("Confirm and pay"))


class PaymentCodePolicyForm(FlaskForm):
    """The admin's rules for when checkout asks for a one-time code."""

    enabled = BooleanField(_l("Ask for a one-time code when a rule below applies"))
    amount_threshold = StringField(
        _l("Orders of this total or more (empty: no amount rule)"),
        validators=[Optional(), Length(max=12)],
        render_kw={"inputmode": "decimal"},
    )
    currency = SelectField(
        _l("Currency of that amount (orders in another currency always ask)"),
        choices=[SelectChoice(code, code) for code in CURRENCIES],
    )
    first_order = BooleanField(_l("A customer's first paid order"))
    new_device = BooleanField(_l("A customer paying from a browser never used to pay before"))
    orders_per_address_per_hour = IntegerField(
        _l("More orders than this from one address within an hour (0: no such rule)"),
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=1000)],
    )
    submit = SubmitField(_l("Save the rules"))


class RefundForm(FlaskForm):
    """The admin's refund of an order: how much, and which unredeemed PINs it voids."""

    amount = StringField(
        _l("Amount to refund"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("At most what was paid less what was refunded already."),
    )
    vouchers = SelectMultipleField(
        _l("PINs to void"),
        choices=[],
        coerce=int,
        validators=[Optional()],
        description=_l("Select none to void the last issued first, as many as the refund covers."),
    )
    refund_key = HiddenField(validators=[DataRequired(), Length(min=16, max=16)])
    submit = SubmitField(_l("Refund"))  # the route names the order's provider
