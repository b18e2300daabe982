"""Catalog pages: the storefront home, a pack's page, and the admin's pack editor."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from shop.auth.decorators import admin_required
from shop.catalog import services
from shop.catalog.forms import ProductForm
from shop.money import InvalidAmount, parse_major_amount, to_decimal
from shop.web import current_actor

bp = Blueprint("catalog", __name__)


@bp.route("/")
def home():
    """List the packs on sale, grouped by region."""
    products = services.list_active_products()
    regions: dict[str, list] = {}
    for product in products:
        regions.setdefault(product.region or _("Other"), []).append(product)
    return render_template("catalog/home.html", regions=regions, product_count=len(products))


@bp.route("/packs/<sku>")
def product(sku):
    """Show one pack on sale."""
    try:
        item = services.get_product_by_sku(sku)
    except services.ProductNotFound:
        abort(404)
    return render_template("catalog/product.html", product=item)


@bp.route("/admin/products")
@admin_required
def admin_products():
    """List every pack for the operator."""
    return render_template("catalog/admin_products.html", products=services.list_all_products())


def _form_to_data(form: ProductForm) -> services.ProductData:
    price = parse_major_amount(form.price.data, form.currency.data)
    return services.ProductData(
        sku=form.sku.data,
        name=form.name.data,
        region=form.region.data or "",
        description=form.description.data or "",
        data_mb=form.data_mb.data,
        validity_days=form.validity_days.data,
        price=price,
        currency=form.currency.data,
        coverage=services.parse_coverage(form.coverage.data or ""),
    )


def _save_product(form: ProductForm, product_id: int | None) -> bool:
    """Run the create/update service; put its complaints on the form. Return success."""
    try:
        data = _form_to_data(form)
        if product_id is None:
            saved = services.create_product(data, current_actor())
        else:
            saved = services.update_product(product_id, data, current_actor())
    except InvalidAmount:
        form.price.errors.append(_("A price such as 12.50."))
    except services.InvalidProduct as exc:
        getattr(form, exc.field, form.sku).errors.append(str(exc))
    except services.SkuTaken:
        form.sku.errors.append(_("Another pack already has this SKU."))
    else:
        flash(_("Pack %(sku)s saved.", sku=saved.sku), "success")
        return True
    return False


@bp.route("/admin/products/new", methods=["GET", "POST"])
@admin_required
def admin_new_product():
    """Create a pack."""
    form = ProductForm()
    if form.validate_on_submit() and _save_product(form, None):
        return redirect(url_for("catalog.admin_products"))
    status = 400 if request.method == "POST" else 200
    return render_template("catalog/admin_product_form.html", form=form, product=None), status


@bp.route("/admin/products/<id:product_id>/edit", methods=["GET", "POST"])
@admin_required
def admin_edit_product(product_id):
    """Edit a pack."""
    try:
        item = services.get_product(product_id)
    except services.ProductNotFound:
        abort(404)
    form = ProductForm()
    if request.method == "GET":
        form = ProductForm(
            sku=item.sku,
            name=item.name,
            region=item.region,
            description=item.description,
            data_mb=item.data_mb,
            validity_days=item.validity_days,
            price=str(to_decimal(item.price, item.currency)),
            currency=item.currency,
            coverage=", ".join(item.coverage),
        )
    form.sku.render_kw = {"readonly": True, "aria-describedby": "sku-fixed"}
    if form.validate_on_submit() and _save_product(form, product_id):
        return redirect(url_for("catalog.admin_products"))
    status = 400 if request.method == "POST" else 200
    return render_template("catalog/admin_product_form.html", form=form, product=item), status


@bp.route("/admin/products/<id:product_id>/active", methods=["POST"])
@admin_required
def admin_set_product_active(product_id):
    """Put a pack on sale or take it off sale."""
    active = request.form.get("active") == "1"
    try:
        item = services.set_product_active(product_id, active, current_actor())
    except services.ProductNotFound:
        abort(404)
    if active:
        flash(_("Pack %(sku)s is on sale again.", sku=item.sku), "success")
    else:
        flash(_("Pack %(sku)s is off sale.", sku=item.sku), "success")
    return redirect(url_for("catalog.admin_products"))
