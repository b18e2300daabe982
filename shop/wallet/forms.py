"""The operator's wallet forms: finding a wallet, adjusting its balance."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional


class WalletSearchForm(FlaskForm):
    """Find wallets by their owner's e-mail (a GET form, so no CSRF token)."""

    class Meta:  # noqa: D106 - WTForms options
        csrf = False

    email = StringField(_l("Owner's e-mail"), validators=[Optional(), Length(max=254)])
    submit = SubmitField(_l("Search"))


class AdjustmentForm(FlaskForm):
    """Add money to a wallet or take it out, with the reason (shown again to confirm)."""

    amount = StringField(
        _l("Amount"),
        validators=[DataRequired(_l("Type the amount, such as 5.00 or -5.00.")), Length(max=20)],
        description=_l("Positive adds to the wallet, negative (-5.00) takes out of it."),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    reason = StringField(
        _l("Reason"),
        validators=[DataRequired(_l("Say why: the customer sees it.")), Length(max=200)],
    )
    key = HiddenField(validators=[DataRequired(), Length(min=16, max=16)])
    confirmed = HiddenField(default="")
    submit = SubmitField(_l("Review adjustment"))
