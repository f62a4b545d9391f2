"""The Carteira's rows, drawn in one pass with the markup of unfold's result list.

unfold's `unfold_result_list` builds each of the page's ~500 cells on its own: it looks the column up again for
every row, renders the action checkbox's widget template once per row and each badge's template once per cell.
`wallet_result_list` decides once per page how each column is drawn and then only fills in the row's values:
the checkbox is rendered once with a stand-in value, and each badge once per distinct value. The cells come out
as unfold writes them (tests/core/test_carteira_rows.py compares the two); a column this does not know how to
draw sends the whole page back to unfold's own code.
"""

import datetime
from types import SimpleNamespace

from django import VERSION as DJANGO_VERSION
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_list import _coerce_field_name, result_hidden_fields
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.utils import _get_non_gfk_field, quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.template import Library
from django.urls import NoReverseMatch
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe
from unfold import admin as unfold_admin
from unfold.templatetags import unfold_list
from unfold.utils import display_for_field, display_for_label, display_for_value

register = Library()

STAND_IN = "\x00pk\x00"  # no escaping touches it, and no real value contains it
URL_STAND_IN = "wallet-row-pk"  # letters and a dash: quote() and reverse() leave it as it is


class Fallback(Exception):
    """A column (or a change list) this module does not draw: unfold's own code draws the page."""


def checkbox_cell(model_admin):
    """The action checkbox of each row: unfold renders its widget's template per row; here it is rendered once
    with a stand-in value, and each row puts its own escaped pk in that place."""
    if type(model_admin).action_checkbox is not unfold_admin.ModelAdmin.action_checkbox:
        raise Fallback
    html = unfold_admin.checkbox.render(ACTION_CHECKBOX_NAME, STAND_IN)
    if html.count(STAND_IN) != 1:
        raise Fallback
    before, after = html.split(STAND_IN)
    start = f'<td class="{" ".join(unfold_list.TABLE_ACTION_CELL_CLASSES)}">{before}'
    end = f"{after}</td>"
    return lambda obj: mark_safe(start + escape(str(obj.pk)) + end)


def value_drawer(cl, field_name, empty_value_display):
    """A function of the row returning (the cell's content, whether it is a date), drawn as
    unfold's items_for_result does: a model field through display_for_field, a ModelAdmin callable through
    display_for_label (each distinct badge rendered once) or display_for_value."""
    model_admin = cl.model_admin
    try:
        field = _get_non_gfk_field(cl.lookup_opts, field_name)
    except FieldDoesNotExist:
        field = None
    except Exception:  # FieldIsAForeignKeyColumnName and the like: rare, unfold knows
        raise Fallback from None
    if field is not None:
        if field.auto_created or field.is_relation:
            raise Fallback
        dated = isinstance(field, models.DateField | models.TimeField)

        def draw_field(obj):
            return display_for_field(getattr(obj, field.name), field, empty_value_display), dated

        return draw_field
    if callable(field_name) or field_name == "__str__" or not hasattr(model_admin, field_name):
        raise Fallback
    attr = getattr(model_admin, field_name)
    if getattr(attr, "dropdown", False) or getattr(attr, "header", False):
        raise Fallback
    empty = getattr(attr, "empty_value_display", empty_value_display)
    label = getattr(attr, "label", False)
    boolean = getattr(attr, "boolean", False)
    badges = {}

    def draw_callable(obj):
        try:
            value = attr(obj)
        except ObjectDoesNotExist:
            return empty_value_display, False
        dated = isinstance(value, datetime.date | datetime.time)
        if not label:
            return display_for_value(value, empty, boolean), dated
        try:
            return badges[value], dated
        except TypeError:  # unhashable: drawn each time
            return display_for_label(value, empty, label), dated
        except KeyError:
            badges[value] = display_for_label(value, empty, label)
            return badges[value], dated

    return draw_callable


def row_drawer(cl):
    """A function of the row returning its cells (SafeStrings), or Fallback."""
    model_admin = cl.model_admin
    if cl.formset or cl.list_display_links is None or cl.is_popup or cl.to_field:
        raise Fallback
    if getattr(model_admin, "hide_ordering_field", False) and getattr(model_admin, "ordering_field", None):
        raise Fallback
    empty_value_display = model_admin.get_empty_value_display()
    links = cl.list_display_links
    cells, linked = [], False
    for index, field_name in enumerate(cl.list_display):
        is_link = (not linked and not links) or field_name in links
        if field_name == "action_checkbox":
            if is_link:
                raise Fallback
            cells.append(checkbox_cell(model_admin))
            continue
        classes = [f"field-{_coerce_field_name(field_name, index)}", *unfold_list.TABLE_CELL_CLASSES]
        attr = getattr(model_admin, field_name, None) if isinstance(field_name, str) else None
        if getattr(attr, "formatting", None) == "price":
            classes.append("!text-end")
        tag = "th" if is_link and not linked else "td"
        linked = linked or is_link
        cells.append(cell_drawer(cl, tag, classes, value_drawer(cl, field_name, empty_value_display), is_link))
    return lambda obj: [cell(obj) for cell in cells]


def link_url(cl):
    """A function of the row returning its change link (unfold: url_for_result and add_preserved_filters, a
    reverse and a resolve per row), built here once per page around a stand-in pk; None without a link."""
    if type(cl).url_for_result is not ChangeList.url_for_result:
        raise Fallback
    pk_name = cl.pk_attname
    stand_in = SimpleNamespace(**{pk_name: URL_STAND_IN})
    try:
        url = cl.url_for_result(stand_in)
    except NoReverseMatch:
        return None
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url)
    if url.count(URL_STAND_IN) != 1:
        raise Fallback
    before, after = url.split(URL_STAND_IN)
    return lambda obj: before + str(quote(getattr(obj, pk_name))) + after


def cell_drawer(cl, tag, classes, draw, is_link):
    """format_html("<{tag} class=…>{content}</{tag}>") as unfold writes it, the constant parts joined once."""
    start, dated_start, end = (
        f'<{tag} class="{" ".join(classes)}">',
        f'<{tag} class="{" ".join([*classes, "nowrap"])}">',
        f"</{tag}>",
    )
    url = link_url(cl) if is_link else None
    link_start = '<a href="'
    link_middle = f'" class="{" ".join(unfold_list.LINK_CLASSES)}" >'

    def cell(obj):
        text, is_date = draw(obj)
        text = conditional_escape(text)
        if url is not None:
            text = link_start + escape(url(obj)) + link_middle + text + "</a>"
        return mark_safe((dated_start if is_date else start) + text + end)

    return cell


def wallet_results(cl):
    try:
        draw = row_drawer(cl)
    except Fallback:
        yield from unfold_list.results(cl)
        return
    for obj in cl.result_list:
        yield unfold_list.UnfoldResultList(obj, None, draw(obj))


def wallet_result_list(context, cl):
    """unfold's result_list context, with the rows drawn by wallet_results."""
    headers = list(unfold_list.result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": list(wallet_results(cl)),
        "actions_row": context.get("actions_row"),
        "has_add_permission": cl.model_admin.has_add_permission(context["request"]),
    }


@register.tag(name="wallet_result_list")
def wallet_result_list_tag(parser, token):
    args = ("wallet_result_list", parser, token) if DJANGO_VERSION >= (6, 1) else (parser, token)
    return InclusionAdminNode(*args, func=wallet_result_list, template_name="change_list_results.html")
