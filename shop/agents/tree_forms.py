"""Forms of the reseller tree pages: sub-agents, their terms, float moves, users and prices."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from shop.agents.forms import AgentForm

MONEY_PATTERN = r"^\s*\d{1,7}(\.\d{1,2})?\s*$"


class SubAgentForm(AgentForm):
    """Create a sub-agent with its first manager (an agent's manager)."""

    manager_email = StringField(
        _l("First manager's e-mail"),
        validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "off"},
    )
    manager_password = StringField(
        _l("First password (at least 10 characters; they can change it)"),
        validators=[DataRequired(), Length(min=10, max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Create sub-agent"))


class FloatMoveForm(FlaskForm):
    """Give float to a sub-agent, or take unused float back."""

    amount = StringField(
        _l("Amount (e.g. 250.00)"),
        validators=[DataRequired(), Regexp(MONEY_PATTERN, message=_l("An amount such as 250.00."))],
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    direction = SelectField(
        _l("Direction"),
        choices=[
            SelectChoice("give", _l("Give float to the sub-agent")),
            SelectChoice("take", _l("Take unused float back")),
        ],
        validators=[DataRequired()],
    )
    submit = SubmitField(_l("Move float"))


class SubUserForm(FlaskForm):
    """Add a manager or counter staff account to a sub-agent."""

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
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("agent_staff", _l("Counter staff")),
            SelectChoice("agent_manager", _l("Manager")),
        ],
        validators=[DataRequired()],
    )
    submit = SubmitField(_l("Add account"))


class PackPriceForm(FlaskForm):
    """Fix a sub-agent's wholesale price of one pack."""

    sku = SelectField(_l("Pack"), validators=[DataRequired()], choices=[])
    price = StringField(
        _l("Wholesale price (e.g. 8.50)"),
        validators=[DataRequired(), Regexp(MONEY_PATTERN, message=_l("An amount such as 8.50."))],
    )
    submit = SubmitField(_l("Set price"))


class MoveForm(FlaskForm):
    """Move an agent under another parent (admin); empty: directly under the operator."""

    parent = StringField(
        _l("New parent's code (empty: the operator)"), validators=[Optional(), Length(max=32)]
    )
    submit = SubmitField(_l("Move"))
