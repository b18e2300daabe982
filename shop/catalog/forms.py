"""Forms of the catalog admin pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from shop.catalog.services import MAX_DATA_MB, MAX_VALIDITY_DAYS
from shop.money import CURRENCIES


class ProductForm(FlaskForm):
    """Create or edit a data pack."""

    sku = StringField(
        _l("SKU"),
        validators=[
            DataRequired(),
            Length(min=2, max=40),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9-]*$", message=_l("Letters, digits and dashes only.")),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=60)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    data_mb = IntegerField(
        _l("Data (MB, 1024 MB = 1 GB)"),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_DATA_MB)],
    )
    validity_days = IntegerField(
        _l("Validity (days from redemption)"),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_VALIDITY_DAYS)],
    )
    price = StringField(
        _l("Price (e.g. 12.50)"),
        validators=[
            DataRequired(),
            Regexp(r"^\s*\d{1,7}(\.\d{1,2})?\s*$", message=_l("A price such as 12.50.")),
        ],
    )
    currency = SelectField(
        _l("Currency"), choices=[SelectChoice(c) for c in CURRENCIES], default="USD"
    )
    coverage = StringField(
        _l("Coverage (country codes, e.g. TH, VN, MY)"), validators=[Optional(), Length(max=800)]
    )
    submit = SubmitField(_l("Save pack"))
