"""The owner's choice of a card's auto-renew: pack, trigger, threshold, monthly cap."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, SubmitField
from wtforms.validators import InputRequired, NumberRange, Optional

from shop.autorenew.messages import TRIGGERS
from shop.autorenew.services import CAP_RANGE, THRESHOLD_RANGE
from shop.money import format_money


class RenewalRuleForm(FlaskForm):
    """Set up or change a card's auto-renew."""

    product_id = SelectField(
        _l("Pack to buy"),
        coerce=int,
        validators=[InputRequired(_l("Choose a pack."))],
        validate_choice=False,  # the service says whether the pack is on sale
    )
    trigger = SelectField(
        _l("When to renew"),
        choices=[SelectChoice(trigger.value, label) for trigger, label in TRIGGERS.items()],
        validators=[InputRequired(_l("Choose when to renew."))],
    )
    threshold_mb = IntegerField(
        _l("Renew when less than this is left (MB)"),
        description=_l("Only for “when less data is left than a chosen amount”."),
        validators=[
            Optional(),
            NumberRange(*THRESHOLD_RANGE, message=_l("Choose between %(min)d and %(max)d MB.")),
        ],
    )
    monthly_cap = IntegerField(
        _l("At most this many renewals a month"),
        description=_l("Leave empty for no limit."),
        validators=[
            Optional(),
            NumberRange(*CAP_RANGE, message=_l("Choose between %(min)d and %(max)d.")),
        ],
    )
    submit = SubmitField(_l("Save auto-renew"))

    def offer(self, packs, locale: str) -> None:
        """Offer the packs on sale, each with its price."""
        self.product_id.choices = [
            SelectChoice(
                pack.id, f"{pack.name} · {format_money(pack.price, pack.currency, locale)}"
            )
            for pack in packs
        ]

    def fill(self, rule) -> None:
        """Show a rule's current choice."""
        self.product_id.data = rule.product_id
        self.trigger.data = rule.trigger.value
        self.threshold_mb.data = rule.threshold_mb
        self.monthly_cap.data = rule.monthly_cap
