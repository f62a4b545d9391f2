"""No hostile value in any parameter reaches a 500: generated from the URL registry and the admin registry.

Every URL the project serves (tests.urlconf.walk, as in the isolation matrix) is requested with each hostile
value in each of its path parameters, in each parameter its view reads (found in the view's source, the
project's functions it calls and the forms it builds: query string, body or header) and, for the admin, in
each changelist filter, search, ordering and page, each action's selected ids, and the fields of each add and
change form (the form a browser would post, every field holding the hostile value: a form cleans each field on
its own). A new URL, parameter, filter, action or form field is fuzzed without anyone adding it here.

Each role of a tenant signs in and sends the cases: the operator all of them (an admin page it cannot open is
tried once); the tenant admin and the supervisor share the admin's cases, every other one each (the admin runs
the same code for both), and both send all the others. The only acceptable answers are below 500. One case per
URL and one per admin model, generated at collection; the number of requests sent and of answers >= 500 is
printed at the end of the run, summed over the cases.
"""

import inspect
import re
import types
from urllib.parse import quote

import pytest
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.utils.module_loading import import_string

from tenants.models import Role, Tenant
from tests.test_admin_forms import browser_post_data, record_for
from tests.test_isolation import PARAM, fill, populate
from tests.urlconf import walk

pytestmark = pytest.mark.django_db

ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)

# What an attacker types: digits Python's isdigit() accepts but int() or the database do not, numbers and
# strings no column holds, bytes PostgreSQL refuses, dates at the edges of what Python represents.
HOSTILE = {
    "sobrescrito": "²",
    "5000 dígitos": "9" * 5000,
    "NUL": "a\x00b",
    "controle": "x\x0b\x1by",
    "31/12/9999": "31/12/9999",
    "data inválida": "30/02/2026",
    "JSON aninhado": '{"a":' * 2000 + "1" + "}" * 2000,
}
# A path segment: what one segment of a URL can carry to a view.
PATH_HOSTILE = {k: HOSTILE[k] for k in ("sobrescrito", "5000 dígitos", "NUL")}
# request.GET.get("x"), request.POST["x"], request.headers.get("X"): which dictionary, and the name.
READS = re.compile(r"""\b(GET|POST|headers|META)\s*(?:\.get(?:list)?\(\s*|\[\s*)["']([\w-]+)["']""")
SKIP_ROUTES = ("static/", "sandbox/3cplus/api/")  # files, and the fake 3C Plus API (tests/dialer covers it)


PROJECT_APPS = ("attendance", "common", "config", "core", "dashboard", "dialer", "tenants")


def reads_of(function, seen=None) -> set[tuple[str, str]]:
    """(GET, POST or headers, name) of what a view reads from the request: in its own source, in the project's
    functions it calls and in the fields of the forms it builds."""
    seen = set() if seen is None else seen
    function = inspect.unwrap(function)
    if isinstance(function, types.MethodType):
        function = function.__func__
    is_form = isinstance(function, type) and issubclass(function, forms.BaseForm)
    if not (is_form or isinstance(function, types.FunctionType)) or function in seen:
        return set()
    seen.add(function)
    if is_form:
        return {(where, name) for name in function.base_fields for where in ("GET", "POST")}
    module = inspect.getmodule(function)
    if module is None or not module.__name__.startswith(PROJECT_APPS):
        return set()
    names = set(READS.findall(inspect.getsource(function)))
    for name in function.__code__.co_names:
        names |= reads_of(getattr(module, name, None), seen)
    return names


def admin_for(route: str):
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    if not match:
        return None
    for model, model_admin in admin.site._registry.items():
        if (model._meta.app_label, model._meta.model_name) == match.groups():
            return model_admin
    return None


def admin_reads(model_admin) -> set[str]:
    """Parameters the project's ModelAdmin code reads itself (prefills, confirmation pages)."""
    names = set()
    for klass in type(model_admin).__mro__:
        if klass.__module__.split(".")[0] in ("attendance", "core", "dialer", "tenants", "dashboard"):
            names |= set(READS.findall(inspect.getsource(klass)))
    return names


def changelist_params(model_admin, user) -> set[tuple[str, str]]:
    """Every parameter the changelist's filters, search, ordering and pages read."""
    request = RequestFactory().get("/")
    request.user = user
    changelist: ChangeList = model_admin.get_changelist_instance(request)
    names = {"q", "o", "p"}
    for spec in changelist.filter_specs:
        names |= set(spec.expected_parameters())
    return {("GET", name) for name in names}


def with_path_param(route: str, name: str, world: dict, param: str, value: str) -> str:
    """The route's path with `param` replaced by `value` and the others pointing at `world`'s records."""
    marker = "HOSTILPARAM"

    def swap(match):
        return marker if (match.group(2) or match.group(3)) == param else match.group(0)

    path = fill(PARAM.sub(swap, route), name, world)
    return path.replace(marker, quote(value, safe=""))


def hostile_requests(source: str, path: str, params: set[tuple[str, str]]) -> list[tuple[str, str, dict, int | None]]:
    """Each parameter with each hostile value, sent the way the view reads it (query string, body, header)."""
    cases = []
    for where, param in sorted(params):
        method = "post" if where == "POST" else "get"
        for turn, (name, value) in enumerate(HOSTILE.items()):
            if method == "get" and name == "controle":
                continue  # a query string with one is refused like one with NUL (common.middleware)
            if where in ("headers", "META"):
                cases.append(("header", path, {param: value}, turn))
            else:
                cases.append((method, path, {param: value}, turn))
    return cases


# The matrix's cases, generated at collection from the URL and admin registries: one per URL (its path
# parameters, the parameters its view reads, its changelist's filters and actions) and one per admin model (the
# fields of its add and change forms), so that xdist spreads them over its workers.
ROUTES = [(route, name, view) for route, name, view in walk() if not route.startswith(SKIP_ROUTES)]
MODELS = list(admin.site._registry)


def route_cases(route, name, view, world) -> list[tuple[str, str, dict, int | None]]:
    """(method, path, data, turn): every path parameter, read parameter and admin filter or action of the URL,
    with each hostile value."""
    cases = []
    admin_user = world["users"][Role.ADMIN]
    path = fill(route, name, world)
    for param in sorted({m.group(2) or m.group(3) for m in PARAM.finditer(route)}):
        for value in PATH_HOSTILE.values():
            hostile_path = with_path_param(route, name, world, param, value)
            cases.append(("get", hostile_path, {}, None))
            if not route.startswith("admin/"):  # the admin reads a path the same way whatever the method
                cases.append(("post", hostile_path, {}, None))
    params = reads_of(view)
    if name == "admin:index":  # unfold renders the dashboard there
        params |= reads_of(import_string(settings.UNFOLD["DASHBOARD_CALLBACK"]))
    model_admin = admin_for(route)
    if model_admin is not None and name.endswith(("_changelist", "_add", "_change")):
        params |= admin_reads(model_admin)
        if name.endswith("_changelist"):
            params |= changelist_params(model_admin, admin_user)
            for action in [*(model_admin.actions or []), "delete_selected"]:
                action_name = action if isinstance(action, str) else action.__name__
                for turn, value in enumerate(HOSTILE.values()):
                    data = {"action": action_name, "_selected_action": value, "index": "0"}
                    cases.append(("post", path, data, turn))
    cases += hostile_requests(route, path, params)
    return cases


FORMSET_COUNTS = ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")


def form_cases(http, world, model) -> list[tuple[str, str, dict, int | None]]:
    """Each field of the model's admin add and change form the user opens, posted with each hostile value in every
    field at once: a form cleans each field on its own, so none hides another."""
    cases = []
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    record = record_for(model, world)
    pages = [f"{base}add/"] + ([f"{base}{record.pk}/change/"] if record is not None else [])
    for page in pages:
        response = http.get(page)
        if response.status_code != 200:
            continue
        data, _unreadable = browser_post_data(response.content.decode())
        data["_save"] = [""]
        fields = [
            key for key in data if not key.endswith(FORMSET_COUNTS) and key not in ("_save", "csrfmiddlewaretoken")
        ]
        for turn, value in enumerate(HOSTILE.values()):
            cases.append(("post", page, {**data, **{field: [value] for field in fields}}, turn))
    return cases


def send(http, method, path, data):
    if method == "header":
        return http.get(path, headers=data)
    return getattr(http, method)(path, data)


def refused(response) -> bool:
    return response.status_code in (403, 404, 405) or (
        response.status_code == 302 and ("/entrar/" in response["Location"] or "/login/" in response["Location"])
    )


@pytest.fixture
def world():
    tenant = Tenant.objects.create(name="Agência Alfa", slug="alfa")
    return populate(tenant, "ALFA", 1)


def test_the_url_walk_finds_every_url():
    assert len(ROUTES) > 100  # a broken walk must not pass quietly


@pytest.mark.parametrize(("route", "name", "view"), ROUTES, ids=[name or route for route, name, _view in ROUTES])
def test_no_hostile_value_in_any_parameter_answers_500(world, route, name, view, tally):
    cases = route_cases(route, name, view, world)
    send_as_each_role(world, lambda http: cases, tally)


@pytest.mark.parametrize("model", MODELS, ids=[model._meta.label_lower for model in MODELS])
def test_no_hostile_value_in_any_admin_form_field_answers_500(world, model, tally):
    send_as_each_role(world, lambda http: form_cases(http, world, model), tally)


def send_as_each_role(world, cases_for, tally):
    """Each role signs in and sends the cases `cases_for(its client)` gives; none may answer 500 or more."""
    problems = []
    sent = 0
    for role in ROLES:
        http = HttpClient(raise_request_exception=False)
        http.force_login(world["users"][role])
        opens = {}  # an admin page the role cannot open refuses before it reads any parameter
        for method, path, data, turn in cases_for(http):
            # The admin runs the same code for its two staff roles: they share its cases (a quarter of the
            # suite's time otherwise), each sending every other hostile value to each parameter.
            if (
                role != Role.OPERATOR
                and path.startswith("/admin/")
                and turn is not None
                and turn % 2 != ROLES.index(role)
            ):
                continue
            if path.startswith("/admin/") and data:
                if path not in opens:
                    sent += 1
                    opens[path] = not refused(http.get(path))
                if not opens[path]:
                    continue
            sent += 1
            response = send(http, method, path, data)
            if path.startswith(("/sair/", "/admin/logout/")):
                http.force_login(world["users"][role])
            if response.status_code >= 500 and not path.startswith("/healthz"):
                shown = {k: (v if len(str(v)) < 40 else f"{str(v)[:20]}…({len(str(v))})") for k, v in data.items()}
                problems.append(f"{method.upper()} {path[:120]} {shown} como {role}: {response.status_code}")
    tally("Fuzz de entradas", {"requisições": sent, "respostas >= 500": len(problems)})
    print(f"\nFuzz de entradas: {sent} requisições, {len(problems)} respostas >= 500")
    unique = sorted(set(problems))
    assert not unique, f"{len(unique)} casos:\n" + "\n".join(unique[:80])
