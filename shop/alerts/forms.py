"""The owner's choice of a card's alerts."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SubmitField
from wtforms.validators import InputRequired, NumberRange

from shop.alerts.models import AlertKind
from shop.alerts.services import LOW_DATA_RANGE

#: The form's field of each kind, and its label.
KIND_FIELDS = {
    AlertKind.USAGE_75: "usage_75",
    AlertKind.USAGE_90: "usage_90",
    AlertKind.LOW_DATA: "low_data",
    AlertKind.USED_UP: "used_up",
    AlertKind.EXPIRES_3_DAYS: "expires_3d",
    AlertKind.EXPIRES_1_DAY: "expires_1d",
    AlertKind.EXPIRED: "expired",
}


class AlertPreferenceForm(FlaskForm):
    """Which alerts the owner gets, and below how many MB data counts as low."""

    usage_75 = BooleanField(_l("Data use reaches 75%"))
    usage_90 = BooleanField(_l("Data use reaches 90%"))
    low_data = BooleanField(_l("Little data left (less than the amount below)"))
    used_up = BooleanField(_l("Data used up"))
    expires_3d = BooleanField(_l("3 days before the data expires"))
    expires_1d = BooleanField(_l("1 day before the data expires"))
    expired = BooleanField(_l("Data expired"))
    low_data_mb = IntegerField(
        _l("Little data means less than (MB)"),
        validators=[
            InputRequired(_l("Type a number of MB.")),
            NumberRange(
                *LOW_DATA_RANGE,
                message=_l("Choose between %(min)d and %(max)d MB."),
            ),
        ],
    )
    submit = SubmitField(_l("Save alert settings"))

    def fill(self, preference) -> None:
        """Show an owner's current choice."""
        for kind, name in KIND_FIELDS.items():
            getattr(self, name).data = preference.enabled(kind)
        self.low_data_mb.data = preference.low_data_mb

    def enabled_kinds(self) -> set[AlertKind]:
        """Return the kinds ticked."""
        return {kind for kind, name in KIND_FIELDS.items() if getattr(self, name).data}
