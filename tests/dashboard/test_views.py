"""The dashboard pages: who reaches them, what they show, the CSV and the live panel."""

import csv
import datetime
import io
import itertools
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from freezegun import freeze_time

from dashboard import selectors
from dialer.models import DialerCallEvent, DialerExport, WebhookDelivery
from tenants.models import Membership
from tests.dashboard import scenario
from tests.dashboard.scenario import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with freeze_time(NOW, tick=False):
        yield


@pytest.fixture
def worlds(tenant, other_tenant):
    return scenario.build(tenant, 1), scenario.build(other_tenant, 2)


def kpi(html: str, key: str) -> str:
    start = html.index(f'data-kpi="{key}"')
    value = html.index("data-value>", start) + len("data-value>")
    return html[value : html.index("</p>", value)]


def test_supervisor_sees_the_own_tenants_figures_on_the_admin_home(client, worlds):
    alfa, beta = worlds
    beta["users"]["op1"].first_name = "OPERADOR-DA-BETA"
    beta["users"]["op1"].save()
    client.force_login(alfa["users"]["sup"])
    html = client.get("/admin/", {"periodo": "hoje"}).content.decode()
    assert kpi(html, "dialled") == "5"
    assert kpi(html, "contact_rate") == "60,0%"
    assert kpi(html, "right_party_rate") == "60,0%"
    assert kpi(html, "agreements_amount") == "R$ 550,00"
    assert kpi(html, "received") == "R$ 150,00"
    assert kpi(html, "recovery_rate") == "10,0%"
    assert 'class="chart' in html and 'data-type="line"' in html and 'data-type="bar"' in html
    assert "OPERADOR-DA-BETA" not in html
    # Filters offer only the own tenant's records.
    assert html.count("Credor B") == 1


def test_filters_come_from_the_query_string(client, worlds):
    alfa, _beta = worlds
    client.force_login(alfa["users"]["sup"])
    html = client.get("/admin/", {"periodo": "hoje", "campanha": "10"}).content.decode()
    assert kpi(html, "dialled") == "4"
    custom = {"periodo": "personalizado", "inicio": "2026-02-28", "fim": "2026-03-02"}
    assert kpi(client.get("/admin/", custom).content.decode(), "dialled") == "6"


def test_the_period_select_shows_the_period_the_figures_are_for(client, worlds):
    alfa, _beta = worlds
    client.force_login(alfa["users"]["sup"])
    for query in ({}, {"periodo": "desconhecido"}):
        html = client.get("/admin/", query).content.decode()
        assert re.search(r'<option value="7d"[^>]*selected', html), query
        assert not re.search(r'<option value="hoje"[^>]*selected', html), query


def test_another_tenants_filter_values_are_refused(client, worlds):
    alfa, beta = worlds
    client.force_login(alfa["users"]["sup"])
    html = client.get("/admin/", {"periodo": "hoje", "envio": beta["exports"][0].pk}).content.decode()
    # Not one of the choices: the filter is refused and the own tenant's default (7 days, unfiltered) shown.
    assert kpi(html, "dialled") == "6"
    assert "escolha válida" in html


def test_superuser_chooses_a_tenant_or_all(client, worlds, tenant):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "senha-de-teste-123"))
    assert kpi(client.get("/admin/", {"periodo": "hoje"}).content.decode(), "dialled") == "10"
    html = client.get("/admin/", {"periodo": "hoje", "empresa": tenant.pk}).content.decode()
    assert kpi(html, "dialled") == "5"


def test_operators_never_reach_the_dashboard(client, worlds):
    alfa, _beta = worlds
    client.force_login(alfa["users"]["op1"])
    for url in ("/admin/", "/admin/painel/operadores.csv", "/admin/painel/ao-vivo/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_operators_csv_is_sorted_and_neutralises_formulas(client, worlds):
    alfa, _beta = worlds
    op2 = alfa["users"]["op2"]
    op2.first_name = '=HYPERLINK("http://x")'
    op2.save()
    client.force_login(alfa["users"]["sup"])
    response = client.get("/admin/painel/operadores.csv", {"periodo": "hoje", "ordem": "-ligacoes"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Operador", "Ligações", "Tempo falado (s)"]
    assert [row[0] for row in rows[1:]] == ["OP1", '\'=HYPERLINK("http://x")']
    assert rows[1][1:9] == ["3", "180", "1", "0", "0", "1", "1", "3"]
    assert rows[1][9:] == ["2", "500,00", "1"]


def test_home_table_sorts_by_the_clicked_column(client, worlds):
    alfa, _beta = worlds
    client.force_login(alfa["users"]["sup"])
    html = client.get("/admin/", {"periodo": "hoje", "ordem": "falado"}).content.decode()
    op1, op2 = alfa["users"]["op1"].pk, alfa["users"]["op2"].pk
    assert html.index(f'data-operator="{op2}"') < html.index(f'data-operator="{op1}"')


def test_export_funnel_page_and_link(client, worlds):
    alfa, beta = worlds
    e1 = alfa["exports"][0]
    client.force_login(alfa["users"]["sup"])
    page = client.get(f"/admin/dialer/dialerexport/{e1.pk}/change/").content.decode()
    assert f"/admin/dialer/dialerexport/{e1.pk}/funil/" in page
    html = client.get(f"/admin/dialer/dialerexport/{e1.pk}/funil/").content.decode()
    counts = [html[html.index("data-count>", html.index(f'data-step="{n}"')) + 11 :].split("<")[0] for n in range(1, 7)]
    assert counts == ["3", "3", "2", "2", "2", "2"]
    assert all(int(later) <= int(earlier) for earlier, later in itertools.pairwise(counts))  # never widens
    assert client.get(f"/admin/dialer/dialerexport/{beta['exports'][0].pk}/funil/").status_code == 404


def test_live_panel(client, tenant, other_tenant, worlds):
    alfa, _beta = worlds
    now = timezone.now()
    events = DialerCallEvent.objects.filter(tenant=tenant)
    # Every scenario call has its history: op1 and op2 would be idle. op2 gets a call still on.
    DialerCallEvent.objects.create(
        tenant=tenant, event="call-was-connected", call_id="live-1", telephony_id="tl1", agent_id="102"
    )
    # op1: latest call ended a minute ago, not tabulated yet.
    DialerCallEvent.objects.create(
        tenant=tenant, event="call-was-connected", call_id="live-2", telephony_id="tl2", agent_id="101"
    )
    DialerCallEvent.objects.create(
        tenant=tenant, event="call-history-was-created", call_id="hist-2", telephony_id="tl2", agent_id="101"
    )
    # A third operator waiting at the console; a fourth whose console went quiet 30 s ago.
    for name, seen in (("op3", now - datetime.timedelta(seconds=4)), ("op4", now - datetime.timedelta(seconds=30))):
        user = get_user_model().objects.create_user(username=name, first_name=name.upper())
        Membership.objects.create(
            user=user, tenant=tenant, role="operador", threecplus_agent_id=name, console_seen_at=seen
        )
    DialerExport.objects.create(tenant=tenant, campaign_id=1, list_name="Rodando", status=DialerExport.Status.RUNNING)
    DialerExport.objects.create(tenant=other_tenant, campaign_id=1, list_name="B", status=DialerExport.Status.QUEUED)
    events.filter(call_id__startswith="c").update(received_at=now - datetime.timedelta(minutes=20))
    events.filter(call_id="old").update(received_at=now - datetime.timedelta(minutes=20))
    for owner, event, result in (
        (tenant, "call-was-connected", WebhookDelivery.Result.PROCESSED),
        (tenant, "agent-is-idle", WebhookDelivery.Result.UNUSED),
        (tenant, "call-was-connected", WebhookDelivery.Result.PROCESSED),
        (other_tenant, "call-was-connected", WebhookDelivery.Result.PROCESSED),
    ):
        WebhookDelivery.objects.create(tenant=owner, event=event, result=result)
    WebhookDelivery.objects.filter(tenant=tenant).order_by("pk").filter(
        pk=WebhookDelivery.objects.filter(tenant=tenant).order_by("pk").values("pk")[:1]
    ).update(received_at=now - datetime.timedelta(minutes=20))
    live = selectors.live(tenant)
    assert (live["waiting"], live["in_call"], live["after_call"]) == (["OP3"], ["OP2"], ["OP1"])
    assert live["exports_running"] == 1
    assert live["webhook_recent"] == 2  # used or not, this tenant's, within 15 minutes
    assert live["webhook_last_age"] < datetime.timedelta(minutes=1)
    client.force_login(alfa["users"]["sup"])
    html = client.get("/admin/painel/ao-vivo/").content.decode()
    assert 'data-live="in_call"' in html and "OP2" in html


def test_tabulating_ends_after_call_work(tenant, other_tenant, worlds):
    from attendance.models import CallDisposition, DispositionType

    alfa, _beta = worlds
    DialerCallEvent.objects.create(
        tenant=tenant, event="call-was-connected", call_id="x", telephony_id="tx", agent_id="101"
    )
    DialerCallEvent.objects.create(
        tenant=tenant, event="call-history-was-created", call_id="hx", telephony_id="tx", agent_id="101"
    )
    assert selectors.live(tenant)["after_call"] == ["OP1"]
    CallDisposition.objects.create(
        tenant=tenant,
        client=alfa["clients"][1],
        operator=alfa["users"]["op1"],
        call_id="x",
        type=DispositionType.objects.get(tenant=None, behavior="negociar"),
    )
    assert selectors.live(tenant)["after_call"] == []
    assert selectors.live(other_tenant)["after_call"] == []  # same agent id, other tenant: nothing of alfa


def test_console_poll_marks_the_operator_waiting(client, tenant, worlds):
    alfa, _beta = worlds
    client.force_login(alfa["users"]["op1"])
    assert client.get("/atendimento/proxima-ligacao/").status_code == 200
    membership = Membership.objects.get(user=alfa["users"]["op1"])
    assert membership.console_seen_at == timezone.now()
    assert selectors.live(tenant)["waiting"] == ["OP1"]
