"""Every admin form opens and saves unchanged, proved for every registered ModelAdmin.

The cases are generated from the admin registry: a new ModelAdmin is checked without anyone adding it here.
As the tenant admin and as the supervisor, each add page and each change page of one of every record opens;
the change page is then posted back the way a browser would submit it (the rendered inputs with their
initial values, inlines and management forms included, and a number input whose text a browser cannot read
sent empty), and must save with no form error and leave the row as it was. One case per registered model.
"""

import datetime
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import models
from django.test import Client as HttpClient

from tenants.models import Role, Tenant
from tests.test_isolation import populate

pytestmark = pytest.mark.django_db

ROLES = (Role.ADMIN, Role.SUPERVISOR)
SKIPPED_INPUTS = {"submit", "button", "image", "reset", "file"}


class FormSerializer(HTMLParser):
    """What a browser posts for the admin's main form: the successful controls and their current values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.in_form = False
        self.depth = 0
        self.data: list[tuple[str, str]] = []
        self.unreadable: list[str] = []  # number inputs holding text the browser would not show
        self._textarea = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("id") or "").endswith("_form") and not self.in_form:
            self.in_form = True
            return
        if not self.in_form or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind in SKIPPED_INPUTS:
                return
            value = attrs.get("value") or ""
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data.append((name, attrs.get("value") or "on"))
                return
            if kind == "number" and value:
                try:
                    float(value)
                except ValueError:
                    self.unreadable.append(f"{name}={value!r}")
                    value = ""
            self.data.append((name, value))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]
        elif tag == "select" and name:
            self._select = {"name": name, "options": [], "multiple": "multiple" in attrs}
        elif tag == "option" and self._select is not None:
            self._select["options"].append((attrs.get("value", ""), "selected" in attrs))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.in_form:
            self.in_form = False
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea[1]
            self.data.append((self._textarea[0], text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            options = self._select["options"]
            chosen = [value for value, selected in options if selected]
            if not chosen and options and not self._select["multiple"]:
                chosen = [options[0][0]]
            self.data.extend((self._select["name"], value) for value in chosen)
            self._select = None


def browser_post_data(html: str) -> tuple[dict, list[str]]:
    parser = FormSerializer()
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.data:
        data.setdefault(name, []).append(value)
    return data, parser.unreadable


def row_values(record) -> dict:
    """The stored row, minus what a save legitimately touches."""
    model = type(record)
    volatile = {f.attname for f in model._meta.concrete_fields if getattr(f, "auto_now", False)}
    row = model._default_manager.filter(pk=record.pk).values().get()
    # A browser form carries times to the second: a resave dropping microseconds is not an edit.
    return {
        key: value.replace(microsecond=0) if isinstance(value, datetime.datetime) else value
        for key, value in row.items()
        if key not in volatile
    }


def form_errors(response) -> list[str]:
    context = response.context
    if context is None:
        return []
    errors = []
    adminform = context.get("adminform")
    if adminform is not None and adminform.form.errors:
        errors.append(adminform.form.errors.as_text())
    for inline in context.get("inline_admin_formsets") or []:
        formset = inline.formset
        errors += [str(e) for e in formset.errors if e] + [str(e) for e in formset.non_form_errors()]
    return errors


@pytest.fixture
def world():
    tenant = Tenant.objects.create(name="Agência Alfa", slug="alfa")
    return populate(tenant, "ALFA", 1)


def record_for(model, world):
    record = world.get(model._meta.label_lower)
    if record is None:
        manager = model._default_manager
        if any(f.name == "tenant" for f in model._meta.fields):
            manager = manager.filter(tenant=world["tenants.tenant"])
        record = manager.order_by("pk").first()
    return record


# The matrix's cases, generated at collection from the admin registry: one per registered model, both roles in
# turn, so that xdist spreads them over its workers.
MODELS = list(admin.site._registry)


def opens_add_and_change(model_admin, user, record) -> tuple[bool, bool]:
    """Whether the matrix opens the add page, and the change page of `record`, as `user`."""
    request = type("R", (), {"user": user})()
    return model_admin.has_add_permission(request), record is not None and model_admin.has_view_permission(request)


def test_the_registry_walk_opens_enough_pages(world):
    """The pages the matrix's cases open, counted without opening them: a broken registry walk must not pass
    quietly."""
    pages = 0
    for role in ROLES:
        for model, model_admin in admin.site._registry.items():
            pages += sum(opens_add_and_change(model_admin, world["users"][role], record_for(model, world)))
    assert len(MODELS) == len(admin.site._registry)
    assert pages >= 20


@pytest.mark.parametrize("model", MODELS, ids=[model._meta.label_lower for model in MODELS])
def test_every_admin_page_opens_and_saves_unchanged(world, model, tally):
    pages = 0
    saved = 0
    problems = []
    model_admin = admin.site._registry[model]
    for role in ROLES:
        user = world["users"][role]
        http = HttpClient()
        http.force_login(user)
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        request = type("R", (), {"user": user})()
        record = record_for(model, world)
        opens_add, opens_change = opens_add_and_change(model_admin, user, record)
        if opens_add:
            pages += 1
            response = http.get(f"{base}add/")
            if response.status_code != 200:
                problems.append(f"GET {base}add/ como {role}: {response.status_code}")
            else:
                _data, unreadable = browser_post_data(response.content.decode())
                if unreadable:
                    problems.append(f"{base}add/ como {role}: o navegador não mostra {unreadable}")
        if not opens_change:
            continue
        url = f"{base}{record.pk}/change/"
        pages += 1
        response = http.get(url)
        if response.status_code == 302 and response["Location"] == base:
            continue  # an admin whose change page is its list (the qualification mapping): nothing to save
        if response.status_code != 200:
            problems.append(f"GET {url} como {role}: {response.status_code}")
            continue
        data, unreadable = browser_post_data(response.content.decode())
        if unreadable:
            problems.append(f"{url} como {role}: o navegador não mostra {unreadable}")
        if not model_admin.has_change_permission(request, record):
            continue
        before = row_values(record)
        data["_save"] = [""]
        response = http.post(url, data)
        saved += 1
        if response.status_code != 302:
            problems.append(f"POST {url} como {role}: {response.status_code} {form_errors(response)}")
            continue
        after = row_values(record)
        if after != before:
            changed = {k: (before[k], after[k]) for k in before if before[k] != after.get(k)}
            problems.append(f"POST {url} como {role} alterou a linha: {changed}")
    tally("Formulários do admin", {"páginas abertas": pages, "salvas sem alteração": saved})
    print(f"\nFormulários do admin, {model._meta.label}: {pages} páginas abertas, {saved} salvas sem alteração")
    assert not problems, "\n".join(problems)


def test_money_inputs_show_the_stored_value_and_accept_both_ways_of_typing(world):
    creditor = world["core.creditor"]
    http = HttpClient()
    http.force_login(world["users"][Role.ADMIN])
    url = f"/admin/core/creditor/{creditor.pk}/change/"
    type(creditor).objects.filter(pk=creditor.pk).update(min_installment_amount="1553.60")
    html = http.get(url).content.decode()
    assert 'name="min_installment_amount"' in html and 'value="1553,60"' in html
    for typed, stored in (("1.234,56", "1234.56"), ("1234.56", "1234.56"), ("1,234.56", "1234.56"), ("75", "75")):
        data, _unreadable = browser_post_data(html)
        data["min_installment_amount"] = [typed]
        data["_save"] = [""]
        response = http.post(url, data)
        assert response.status_code == 302, form_errors(response)
        creditor.refresh_from_db()
        assert str(creditor.min_installment_amount) == stored + (".00" if "." not in stored else "")


def test_every_decimal_field_in_the_admin_uses_the_money_input():
    """No admin renders a decimal into a number input (the browser would show it empty)."""
    from django.contrib.admin.utils import flatten_fieldsets
    from django.test import RequestFactory

    from common.money_fields import MoneyInput

    request = RequestFactory().get("/")
    request.user = type("U", (), {"is_superuser": True, "is_active": True, "is_staff": True})()
    offenders = []
    for model, model_admin in admin.site._registry.items():
        admins = [model_admin] + [inline(model, admin.site) for inline in model_admin.inlines]
        for each in admins:
            readonly = set(each.get_readonly_fields(request))  # shown as text, never as an input
            declared = flatten_fieldsets(each.fieldsets) if each.fieldsets else each.fields
            for field in each.model._meta.get_fields():
                if declared and field.name not in declared:
                    continue  # the form never has it
                if isinstance(field, models.DecimalField) and field.editable and field.name not in readonly:
                    formfield = each.formfield_for_dbfield(field, request)
                    if formfield is not None and not isinstance(formfield.widget, MoneyInput):
                        offenders.append(f"{each.model._meta.label}.{field.name} ({type(each).__name__})")
    assert not offenders, offenders
    assert apps.get_model("core", "creditor")  # the registry was walked
