import asyncio
import dataclasses
import datetime
import io
import logging
import sys
from decimal import Decimal
from pathlib import Path

import freezegun
import pytest
from django.contrib.auth import get_user_model
from pythonjsonlogger.json import JsonFormatter

from common.processes import database_url, stop, wait_until_answering
from core.models import Client, ClientPhone, Creditor, Debt
from tenants.models import Membership, Role, Tenant
from tests.dialer.conftest import make_dialer_api, sandbox, sandbox_server, sleeps  # noqa: F401

PASSWORD = "senha-de-teste-123"

# A frozen clock is the test's, not the runner's: without this, freezegun swaps the time functions pytest and
# xdist time the tests with, and --durations prints the frozen date in seconds since 1970.
freezegun.configure(extend_ignore_list=["_pytest", "pluggy", "xdist", "execnet"])


ALWAYS_OPEN = {"weekdays": "00:00-24:00", "saturday": "00:00-24:00", "sunday": "00:00-24:00", "holidays": "00:00-24:00"}


def open_at_any_hour(tenant, **dialer_settings):
    """A tenant whose dialer work runs in another process (a real worker), where calling_hours_always_open does not
    reach: its own hours and every UF's legal window (dialer/calling_rules.py) widened, as a tenant may with a
    reason. Without the second, clients of a state whose law had closed for the day (CE after 18:00, RJ after
    19:00) were held, and such a test failed by the clock."""
    from dialer.eligibility import HOURS_KEY, UF_TIME_ZONES
    from dialer.models import CallingWindowOverride
    from tenants.settings_schema import clean_settings

    tenant.settings = clean_settings({**dialer_settings, HOURS_KEY: ALWAYS_OPEN})
    tenant.save()
    for uf in [*UF_TIME_ZONES, "NORONHA"]:
        CallingWindowOverride.objects.update_or_create(
            tenant=tenant, state=uf, defaults={**ALWAYS_OPEN, "reason": "Teste com worker: discar a qualquer hora."}
        )
    return tenant


@pytest.fixture(autouse=True)
def no_event_loop_left_by_playwright(request):
    """After a browser test, Playwright's sync API leaves its event loop marked as running on the xdist worker's
    main thread for the rest of the session. A later test there that calls asyncio.run, or makes the test client
    call the async stream view (async_to_sync), then failed: which tests ran after a browser test depended on
    worksteal's timing, so CI failed now and then. The loop is not running while a non-browser test runs; it is
    unmarked for that test and marked again after it, so the next browser test finds Playwright as it left it."""
    left = asyncio._get_running_loop()
    if left is None or request.node.get_closest_marker("browser") is not None:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(left)


@pytest.fixture(autouse=True)
def calling_hours_always_open(request, monkeypatch):
    """Tests run at any hour: the calling window is always open unless a test asks for the real default."""
    if request.node.get_closest_marker("real_calling_hours") is None:
        monkeypatch.setattr("dialer.eligibility.DEFAULT_HOURS", ALWAYS_OPEN)
        # The law's windows per UF too (dialer/calling_rules.py): a test of them asks for the real ones.
        from dialer import calling_rules

        def always_open(rule):
            return dataclasses.replace(rule, **ALWAYS_OPEN)

        monkeypatch.setattr(calling_rules, "NATIONAL", always_open(calling_rules.NATIONAL))
        monkeypatch.setattr(calling_rules, "RULES", {uf: always_open(r) for uf, r in calling_rules.RULES.items()})


@pytest.fixture(autouse=True)
def default_disposition_types(request, _django_db_marker):
    """A transactional test flushes every table, the five tabulações the migrations seed included: whichever test
    came next in that worker found none (a tabulação without its type, an agreement page that raised). Put back
    before each test that touches the database: one EXISTS when they are there."""
    if request.node.get_closest_marker("django_db") is None:
        if {"transactional_db", "live_server"} & set(request.fixturenames):
            request.getfixturevalue("transactional_db")
        elif "db" in request.fixturenames:
            request.getfixturevalue("db")
        else:
            return
    from attendance.defaults import ensure_default_disposition_types
    from attendance.models import DispositionType

    if not DispositionType.objects.filter(tenant=None).exists():
        ensure_default_disposition_types(DispositionType)


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: SQLite reuses ids, so a key an earlier test left would match."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def tenant(db):
    return Tenant.objects.create(name="Agência Alfa", slug="alfa")


@pytest.fixture
def other_tenant(db):
    return Tenant.objects.create(name="Agência Beta", slug="beta")


def make_user(tenant, role, username=None):
    user = get_user_model().objects.create_user(
        username=username or f"{role}-{tenant.slug}", password=PASSWORD, is_staff=role != Role.OPERATOR
    )
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def tenant_admin(tenant):
    return make_user(tenant, Role.ADMIN)


@pytest.fixture
def supervisor(tenant):
    return make_user(tenant, Role.SUPERVISOR)


@pytest.fixture
def operator(tenant):
    return make_user(tenant, Role.OPERATOR)


@pytest.fixture
def creditor(tenant):
    return Creditor.objects.create(
        tenant=tenant,
        name="Banco Horizonte",
        max_discount_percent=Decimal("40"),
        max_installments=12,
        min_installment_amount=Decimal("50"),
        min_entry_percent=Decimal("10"),
        monthly_interest_percent=Decimal("1"),
        fine_percent=Decimal("2"),
    )


@pytest.fixture
def lenient(creditor):
    """A creditor whose rules take no entry and up to 30% off: the negotiations of the tests stay within them."""
    creditor.min_entry_percent = Decimal("0")
    creditor.max_discount_percent = Decimal("30")
    creditor.save()
    return creditor


@pytest.fixture
def make_client(tenant, creditor):
    counter = {"n": 0}

    def factory(
        tenant=tenant, creditor=creditor, phones=("+5511987654321",), debts=((Decimal("100.00"), 40),), **fields
    ):
        counter["n"] += 1
        n = counter["n"]
        if creditor.tenant_id != tenant.pk:
            creditor = Creditor.objects.get_or_create(tenant=tenant, name=creditor.name)[0]
        defaults = {"name": f"Cliente {n}", "cpf": fields.pop("cpf", None) or valid_cpf(n), "external_id": f"X{n}"}
        client = Client.objects.create(tenant=tenant, creditor=creditor, **{**defaults, **fields})
        for priority, number in enumerate(phones, 1):
            ClientPhone.objects.create(tenant=tenant, client=client, number=number, kind="celular", priority=priority)
        for i, (amount, days_overdue) in enumerate(debts, 1):
            Debt.objects.create(
                tenant=tenant,
                client=client,
                contract_code=f"C{n}",
                installment_number=i,
                installment_total=len(debts),
                due_date=datetime.date.today() - datetime.timedelta(days=days_overdue),
                original_amount=amount,
            )
        Client.objects.filter(pk=client.pk).refresh_summaries()
        client.refresh_from_db()
        return client

    return factory


def valid_cpf(n: int) -> str:
    from core.seeding import cpf_check_digits

    base = f"{(n * 7919 + 123456) % 999_999_999:09d}"
    return base + cpf_check_digits(base)


@pytest.fixture
def run_worker(monkeypatch):
    """Run the real db_worker until the queue is empty, in this process and this test's transaction.

    The worker closes "old" connections between tasks, which would close the test's own transaction.
    """
    from django.core.management import call_command

    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)

    def run():
        call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    return run


class FailOnInvalidProjectVariable(str):
    """`string_if_invalid` that fails the test when one of our templates prints a variable its view forgot.

    pytest-django's --fail-on-template-vars fails on any template, and the admin's and unfold's own
    templates print optional variables by design. For theirs this is falsy, so Django renders them as
    with the default "" (filters included); for ours it is truthy and Django calls `%`, which fails.
    """

    def __bool__(self):
        return self._project_origin() is not None

    def __contains__(self, key):
        return key == "%s"

    def __mod__(self, variable):
        pytest.fail(f"Variável de template indefinida '{variable}' em {self._project_origin()}", pytrace=False)

    @staticmethod
    def _project_origin():
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_name == "render":
                origin = getattr(frame.f_locals.get("self"), "origin", None)
                if origin is not None:
                    name = str(getattr(origin, "name", "") or "")
                    return name if name.startswith(str(PROJECT_ROOT)) and "site-packages" not in name else None
            frame = frame.f_back
        return None


PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def fail_on_invalid_template_variables():
    from django.conf import settings as django_settings

    options = django_settings.TEMPLATES[0]["OPTIONS"]
    previous = options.get("string_if_invalid", "")
    options["string_if_invalid"] = FailOnInvalidProjectVariable("")
    yield
    options["string_if_invalid"] = previous


@pytest.fixture(autouse=True, scope="session")
def fast_password_hasher():
    """PBKDF2's deliberate slowness is for production; here it was about half of the suite's time."""
    from django.test import override_settings

    override = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    override.enable()
    yield
    override.disable()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_asgi_server(url_of_database: str, port: int, ready_path: str = "/healthz"):
    """uvicorn on 127.0.0.1:port serving config.asgi against that database, once `ready_path` answers (else the
    test fails)."""
    import os
    import subprocess

    from django.conf import settings

    env = {**os.environ, "DATABASE_URL": url_of_database, "LOG_LEVEL": "WARNING"}
    env.update(DATABASE_POOL_SIZE="4", ASYNC_DB_THREADS="2")  # few connections: other test runs share the server
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the browser tests' setting; the server must stay strict
    command = ["uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5"]
    process = subprocess.Popen([sys.executable, "-m", *command], cwd=settings.BASE_DIR, env=env)
    if not wait_until_answering(f"http://127.0.0.1:{port}{ready_path}", process):
        stop(process)
        pytest.fail("o uvicorn não subiu")
    return process


@pytest.fixture(scope="module")
def asgi_server(django_db_setup, django_db_blocker):
    """uvicorn on loopback serving config.asgi (the call stream, the webhook's ASGI endpoint) against the test
    database; PostgreSQL only, as LISTEN/NOTIFY is. Tests using it need django_db(transaction=True): the server
    sees only committed data."""
    import types

    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.skip("o stream da ligação usa LISTEN/NOTIFY do PostgreSQL")
        db = connection.settings_dict
    port = free_port()
    process = start_asgi_server(database_url(db), port)
    try:
        yield types.SimpleNamespace(url=f"http://127.0.0.1:{port}")
    finally:
        stop(process)


def post_csv_import(client, admin_class, model, data: bytes, name: str = "arquivo.csv"):
    """The admin's import page of `model`, posted with `data` as CSV (the format's index read from the admin)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from common.formats import SniffingCSV

    formats = admin_class(model, None).get_import_formats()
    index = next(i for i, f in enumerate(formats) if f is SniffingCSV)
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/import/"
    return client.post(url, {"format": index, "import_file": SimpleUploadedFile(name, data, content_type="text/csv")})


@pytest.fixture
def json_log():
    """What the deployment's console handler writes (JSON, as in production), captured."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream, formatter = io.StringIO(), handler.formatter
    old_stream = handler.setStream(stream)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"))
    yield stream
    handler.setStream(old_stream)
    handler.setFormatter(formatter)


# The generated matrices are many cases, spread over the xdist workers; each case adds its figures (requests
# sent, answers >= 500, pages saved) to its matrix's total, carried to the controller in the report's
# user_properties, and the totals are printed once at the end of the run, as the single tests printed them.
TALLY_PREFIX = "matriz\t"
MATRIX_TOTALS: dict[str, dict[str, int]] = {}


@pytest.fixture
def tally(request):
    """`tally(matrix, {figure: count})`: add this case's figures to `matrix`'s total for the end-of-run summary."""

    def add(matrix: str, figures: dict[str, int]) -> None:
        request.node.user_properties.append((TALLY_PREFIX + matrix, figures))

    return add


def pytest_runtest_logreport(report):
    if report.when != "teardown":  # the last report of a test: it carries what its call and fixtures added
        return
    for key, figures in report.user_properties:
        if isinstance(key, str) and key.startswith(TALLY_PREFIX):
            totals = MATRIX_TOTALS.setdefault(key.removeprefix(TALLY_PREFIX), {"casos": 0})
            totals["casos"] += 1
            for name, value in figures.items():
                totals[name] = totals.get(name, 0) + value


def pytest_terminal_summary(terminalreporter):
    if not MATRIX_TOTALS:
        return
    terminalreporter.write_sep("-", "totais dos testes gerados")
    for matrix, totals in sorted(MATRIX_TOTALS.items()):
        terminalreporter.write_line(f"{matrix}: " + ", ".join(f"{value} {name}" for name, value in totals.items()))
