"""The calling window of each UF's law (dialer/calling_rules.py), the tenant's own windows per UF, municipal holidays,
and the rule the send preview and the atendimento header name. Clocks frozen; the real windows (not always open)."""

import csv
import datetime
import io
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from core.models import Client
from dialer import calling_rules, eligibility, rule_text
from dialer.models import CallingWindowOverride, MunicipalHoliday
from tenants.models import AuditEvent
from tenants.settings_schema import clean_settings
from tests.conftest import post_csv_import
from tests.dialer.conftest import TOKEN

pytestmark = [pytest.mark.django_db, pytest.mark.real_calling_hours]

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
WEDNESDAY = datetime.date(2026, 12, 2)  # no holiday anywhere in Brazil
SATURDAY_10 = datetime.datetime(2026, 12, 5, 10, 0, tzinfo=SAO_PAULO)
ADD_WINDOW = "/admin/dialer/callingwindowoverride/add/"


def local(uf_zone: str, day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=ZoneInfo(uf_zone))


def sendable(tenant, now) -> set[int]:
    return set(eligibility.eligible(Client.objects.all(), tenant, None, now).values_list("pk", flat=True))


def test_every_uf_and_noronha_has_a_rule_with_its_source():
    assert set(calling_rules.RULES) == set(eligibility.UF_TIME_ZONES) and len(calling_rules.RULES) == 27
    for uf, rule in calling_rules.RULES.items():
        assert rule.source and rule.url, uf
        assert rule.state_law or rule.source.startswith(calling_rules.NOT_FOUND), uf
        for kind in calling_rules.DAY_KINDS:
            assert not eligibility._windows_problem(getattr(rule, kind)), (uf, kind)
    assert calling_rules.rule_for(eligibility.NORONHA) is calling_rules.RULES["PE"]
    assert calling_rules.RULES["RJ"].hours() == {
        "weekdays": "09:00-19:00",
        "saturday": "",
        "sunday": "",
        "holidays": "",
    }
    # SMS follows a state's law only where it names SMS; elsewhere the national baseline.
    assert calling_rules.rule_for("AL", calling_rules.SMS) is calling_rules.RULES["AL"]
    assert not calling_rules.rule_for("RJ", calling_rules.SMS).state_law


def test_rj_saturday_closed_sp_saturday_open(tenant, make_client):
    rio = make_client(name="Carioca", state="RJ", city="Rio de Janeiro")
    paulo = make_client(name="Paulistano", state="SP", city="São Paulo")
    policy = eligibility.CallingPolicy.for_tenant(tenant)
    assert policy.next_opening("RJ", SATURDAY_10) == datetime.datetime(2026, 12, 7, 9, 0, tzinfo=SAO_PAULO)
    assert policy.next_opening("SP", SATURDAY_10) is None
    assert sendable(tenant, SATURDAY_10) == {paulo.pk}
    assert rio.pk not in sendable(tenant, SATURDAY_10.replace(hour=13))


def test_rj_and_am_close_before_the_national_baseline_on_a_weekday(tenant, make_client):
    policy = eligibility.CallingPolicy.for_tenant(tenant)
    rio_1930 = local("America/Sao_Paulo", WEDNESDAY, 19, 30)
    manaus_1930 = local("America/Manaus", WEDNESDAY, 19, 30)
    assert policy.next_opening("RJ", rio_1930) == local("America/Sao_Paulo", WEDNESDAY + datetime.timedelta(1), 9)
    assert policy.next_opening("AM", manaus_1930) == local("America/Manaus", WEDNESDAY + datetime.timedelta(1), 8)
    assert policy.next_opening("SP", rio_1930) is None
    # 19:30 in Brasília is 18:30 in Manaus: AM is closed (18:00), and so are RJ and ES (19:00); SP and BA are not.
    clients = {uf: make_client(state=uf).pk for uf in ("RJ", "AM", "ES", "SP", "BA")}
    assert sendable(tenant, rio_1930) == {clients["SP"], clients["BA"]}
    # Ceará's law (08–18 on weekdays, SMS and WhatsApp too) closes at 18:00 local.
    assert policy.next_opening("CE", local("America/Fortaleza", WEDNESDAY, 18)) is not None
    assert policy.next_opening("CE", local("America/Fortaleza", WEDNESDAY, 17, 59), channel="whatsapp") is None


def test_the_agency_hours_still_narrow_the_law(tenant):
    tenant.settings = {eligibility.HOURS_KEY: {"weekdays": "10:00-22:00", "saturday": "08:00-14:00"}}
    policy = eligibility.CallingPolicy.for_tenant(tenant)
    wednesday = local("America/Sao_Paulo", WEDNESDAY, 9, 30)
    assert policy.window("RJ", WEDNESDAY) == ((datetime.time(10), datetime.time(19)),)
    assert policy.next_opening("RJ", wednesday) == wednesday.replace(hour=10, minute=0)
    assert policy.next_opening("SP", wednesday.replace(hour=20, minute=30)) is not None  # the law's 20:00


def test_a_municipal_holiday_closes_only_that_city(tenant, make_client):
    thursday = datetime.date(2026, 12, 3)
    MunicipalHoliday.objects.create(
        tenant=tenant, state="SP", city="São José dos Campos", date=thursday, name="Aniversário (teste)"
    )
    by_accent = make_client(state="SP", city="São José dos Campos")
    by_case = make_client(state="SP", city="  SAO JOSE   DOS CAMPOS ")
    other_city = make_client(state="SP", city="Campinas")
    other_state = make_client(state="RJ", city="São José dos Campos")  # same name, another UF
    ten_am = local("America/Sao_Paulo", thursday, 10)
    with CaptureQueriesContext(connection) as queries:
        counts = eligibility.preview(Client.objects.all(), tenant, None, ten_am)
    # The classification is still one query over the clients (the others read the tenant's rules).
    assert len([q for q in queries.captured_queries if "core_client" in q["sql"]]) == 1
    assert counts["to_send"] == 2 and counts["skipped"] == {"fora_do_horario": 2}
    assert counts["opens"] == [(local("America/Sao_Paulo", thursday + datetime.timedelta(1), 8), 2)]
    assert sendable(tenant, ten_am) == {other_city.pk, other_state.pk}
    assert {by_accent.pk, by_case.pk} <= sendable(tenant, ten_am + datetime.timedelta(days=1))
    # The eve of the holiday at 21:00: the city opens a day after its region.
    eve = local("America/Sao_Paulo", thursday - datetime.timedelta(1), 21)
    counts = eligibility.preview(Client.objects.all(), tenant, None, eve)
    assert sorted(counts["opens"]) == [
        (local("America/Sao_Paulo", thursday, 8), 1),  # Campinas
        (local("America/Sao_Paulo", thursday, 9), 1),  # the RJ one
        (local("America/Sao_Paulo", thursday + datetime.timedelta(1), 8), 2),
    ]
    policy = eligibility.CallingPolicy.for_tenant(tenant)
    assert policy.window("SP", thursday, city="sao jose dos campos") == ()
    assert policy.window("SP", thursday) == ((datetime.time(8), datetime.time(20)),)


def test_noronha_on_island_time_with_pernambucos_law(tenant, make_client):
    island = make_client(state="PE", city="Fernando de Noronha")
    recife = make_client(state="PE", city="Recife")
    seven_thirty = local("America/Sao_Paulo", WEDNESDAY, 7, 30)  # 08:30 on the island, 07:30 in Recife
    assert sendable(tenant, seven_thirty) == {island.pk}
    rule = rule_text.client_rule(island, tenant, seven_thirty)
    assert rule.label == "Fernando de Noronha (PE)" and rule.open_now
    assert rule_text.client_rule(recife, tenant, seven_thirty).opens_at == local("America/Recife", WEDNESDAY, 8)


def window_form(**fields):
    return {"state": "RJ", "weekdays": "", "saturday": "", "sunday": "", "holidays": "", "reason": "", **fields}


def test_tightening_a_window_in_the_admin(client, tenant_admin, tenant, make_client):
    client.force_login(tenant_admin)
    response = client.post(ADD_WINDOW, window_form(weekdays="10:00-18:00"))
    assert response.status_code == 302, response.content.decode()[-2000:]
    override = CallingWindowOverride.objects.get()
    assert (override.tenant, override.weekdays, override.updated_by) == (tenant, "10:00-18:00", tenant_admin)
    event = AuditEvent.objects.get(action=AuditEvent.Action.CALLING_WINDOW_CHANGED)
    assert event.user == tenant_admin and event.changes["weekdays"] == ["", "10:00-18:00"]
    rio = make_client(state="RJ")
    assert rio.pk not in sendable(tenant, local("America/Sao_Paulo", WEDNESDAY, 9, 30))
    assert rio.pk in sendable(tenant, local("America/Sao_Paulo", WEDNESDAY, 10, 30))
    rule = rule_text.client_rule(rio, tenant, local("America/Sao_Paulo", WEDNESDAY, 9, 30))
    assert rule.text.startswith("RJ — janela definida pela empresa") and "seg–sex 10:00–18:00" in rule.text
    # A second window for the same UF is refused beside the field, not a database error.
    response = client.post(ADD_WINDOW, window_form(weekdays="11:00-17:00"))
    assert response.status_code == 200 and "Já existe uma janela para esta UF" in response.content.decode()


def test_widening_a_window_needs_a_reason_and_is_audited(client, tenant_admin, tenant, supervisor):
    client.force_login(tenant_admin)
    wider = window_form(weekdays="08:00-20:00", saturday="09:00-12:00")
    response = client.post(ADD_WINDOW, wider)
    assert response.status_code == 200
    html = response.content.decode()
    assert "A janela de dias úteis, sábado é mais ampla que a lei de RJ" in html
    assert "escreva o motivo" in html
    assert not CallingWindowOverride.objects.exists() and not AuditEvent.objects.exists()
    response = client.post(ADD_WINDOW, window_form(weekdays="8h às 20h"))
    assert response.status_code == 200 and "Horário inválido" in response.content.decode()

    reason = "Devedores pediram contato às 8h; parecer jurídico nº 12/2026."
    response = client.post(ADD_WINDOW, {**wider, "reason": reason})
    assert response.status_code == 302
    override = CallingWindowOverride.objects.get()
    assert override.reason == reason
    event = AuditEvent.objects.get(action=AuditEvent.Action.CALLING_WINDOW_CHANGED)
    assert event.changes["reason"] == ["", reason]
    assert event.changes["mais ampla que a lei em"] == ["", "dias úteis, sábado"]
    assert eligibility.CallingPolicy.for_tenant(tenant).next_opening("RJ", SATURDAY_10) is None

    # Only a tenant admin edits the windows; a supervisor reads them.
    client.force_login(supervisor)
    assert client.get(ADD_WINDOW).status_code == 403
    assert client.get("/admin/dialer/callingwindowoverride/").status_code == 200


def holiday_csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["uf", "cidade", "data", "feriado"])
    writer.writerows(rows)
    return out.getvalue().encode()


def test_municipal_holidays_import_lists_bad_rows_and_imports_the_rest(client, tenant_admin, tenant):
    from dialer.admin import MunicipalHolidayAdmin

    november_22 = datetime.date(2026, 11, 22)
    MunicipalHoliday.objects.create(tenant=tenant, state="RJ", city="Niterói", date=november_22, name="x")
    data = holiday_csv(
        [
            ["SP", "São José dos Campos", "27/07/2026", "Aniversário da cidade"],
            ["XX", "Lugar Nenhum", "01/02/2026", "Inventado"],
            ["RJ", "Niterói", "32/13/2026", "Data ruim"],
            ["MG", "", "01/03/2026", "Sem cidade"],
            ["rj", "NITERÓI", "22/11/2026", "Já cadastrado"],
        ]
    )
    client.force_login(tenant_admin)
    response = post_csv_import(client, MunicipalHolidayAdmin, MunicipalHoliday, data, "feriados.csv")
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors(), [e.error for row in result.row_errors() for e in row[1]]
    errors = {row.number: " ".join(row.error.messages) for row in result.invalid_rows}
    assert set(errors) == {2, 3, 4}, errors
    assert "UF inválida" in errors[2] and "Data inválida" in errors[3] and "Informe a cidade" in errors[4]
    form = response.context["confirm_form"]
    confirm = client.post(
        "/admin/dialer/municipalholiday/process_import/",
        {name: f.initial if f.initial is not None else form.initial.get(name) for name, f in form.fields.items()},
    )
    assert confirm.status_code == 302
    assert list(MunicipalHoliday.objects.order_by("date").values_list("tenant", "state", "city_key", "date")) == [
        (tenant.pk, "SP", "sao jose dos campos", datetime.date(2026, 7, 27)),
        (tenant.pk, "RJ", "niteroi", datetime.date(2026, 11, 22)),
    ]


def test_the_client_header_names_the_rule_and_whether_it_is_open(client, operator, tenant, make_client):
    rio = make_client(name="Carioca", state="RJ", city="Rio de Janeiro")
    client.force_login(operator)
    with freeze_time(SATURDAY_10):
        html = client.get(f"/atendimento/{rio.pk}/").content.decode()
    assert 'data-testid="calling-rule"' in html
    assert "RJ — Lei estadual nº 7.868/2018" in html
    assert "seg–sex 09:00–19:00; sábado, domingo e feriados: não" in html
    assert "fechada agora; abre 07/12 às 09:00 (horário local)" in html
    with freeze_time(local("America/Sao_Paulo", WEDNESDAY, 10)):
        html = client.get(f"/atendimento/{rio.pk}/").content.decode()
    assert "aberta agora" in html


def test_the_send_preview_names_the_rule_of_each_group(
    client, supervisor, tenant, make_client, sandbox_server, sandbox
):
    tenant.settings = clean_settings({"threecplus_base_url": sandbox_server.url, "threecplus_api_key": TOKEN})
    tenant.save()
    make_client(state="RJ")
    make_client(state="RJ")
    make_client(state="SP")
    make_client(state="SP", city="SÃO JOSÉ DOS CAMPOS")
    MunicipalHoliday.objects.create(
        tenant=tenant, state="SP", city="São José dos Campos", date=SATURDAY_10.date(), name="Feriado de teste"
    )
    client.force_login(supervisor)
    with freeze_time(SATURDAY_10):
        response = client.post(
            "/admin/core/client/",
            {"action": "send_to_dialer", "select_across": "1", "index": "0", "_selected_action": ["1"]},
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="preview-rules"' in html
    assert (
        "RJ — Lei estadual nº 7.868/2018 (RJ), que alterou a Lei nº 6.854/2014 (cobrança de dívidas): seg–sex "
        "09:00–19:00; sábado, domingo e feriados: não — <strong>fechada agora; abre 07/12 às 09:00 (horário local)"
        "</strong> (2 clientes)"
    ) in html
    assert "SP — Lei estadual nº 15.426/2014 (SP), art. 2º: seg–sex 08:00–20:00; sábado 08:00–14:00" in html
    assert "<strong>aberta agora</strong> (1 cliente)" in html
    assert (
        "sábado 08:00–14:00; domingo e feriados: não — hoje é feriado municipal em São José dos Campos — "
        "<strong>fechada agora; abre 07/12 às 08:00 (horário local)</strong> (1 cliente)"
    ) in html
