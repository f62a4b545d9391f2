"""Who may be dialled now: every skip reason, counted by the preview and by the CLI, and the calling
window in each debtor's own time zone."""

import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from core import services as core_services
from core.models import Client
from dialer import eligibility, exports
from dialer.models import DialerCallEvent, DialerExport, DialerExportItem

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
# Wednesday 2 December 2026, 19:30 in São Paulo: no holiday anywhere in Brazil.
WEDNESDAY_1930 = datetime.datetime(2026, 12, 2, 19, 30, tzinfo=SAO_PAULO)


def one_of_each(tenant, make_client, campaign_id, *, now=None):
    """One client per skip reason (with the tenant capping calls at 2 a day), plus one that may be called."""
    now = now or timezone.now()
    tenant.settings = {**tenant.settings, eligibility.PER_DAY_KEY: 2}
    tenant.save()
    made = {
        "nao_ligar_cliente": make_client(name="Pediu para não ligar"),
        "quitado": make_client(name="Quitado", status=Client.Status.PAID),
        "saldo_zero": make_client(name="Sem saldo", debts=()),
        "em_acordo": make_client(name="Em acordo", status=Client.Status.AGREEMENT),
        "nao_ligar_telefone": make_client(name="Número errado"),
        "sem_telefone": make_client(name="Sem telefone", phones=()),
        "limite_tentativas": make_client(name="Já ligamos duas vezes"),
        "enviado_recentemente": make_client(name="Enviado há pouco"),
        "ok": make_client(name="Pode ligar", state="SP"),
    }
    made["aguardando"] = make_client(name="Acordo aguardando aprovação", status=Client.Status.NEGOTIATING)
    core_services.set_do_not_call(made["nao_ligar_cliente"], "pedido_devedor")
    core_services.set_phone_do_not_call(made["nao_ligar_telefone"].phones.get(), "numero_errado")
    for n in range(2):
        DialerCallEvent.objects.create(
            tenant=tenant,
            event=DialerCallEvent.Event.HISTORY,
            call_id=f"c{n}",
            client=made["limite_tentativas"],
            received_at=now,
        )
    DialerCallEvent.objects.filter(client=made["limite_tentativas"]).update(received_at=now)
    export = DialerExport.objects.create(tenant=tenant, campaign_id=campaign_id, list_name="antes")
    DialerExportItem.objects.create(
        tenant=tenant,
        export=export,
        client=made["enviado_recentemente"],
        campaign_id=campaign_id,
        status=DialerExportItem.Status.SENT,
        sent_at=now - datetime.timedelta(hours=1),
    )
    return made


@pytest.mark.real_calling_hours
def test_preview_counts_each_reason(dialer_tenant, campaign_id, make_client):
    made = one_of_each(dialer_tenant, make_client, campaign_id, now=WEDNESDAY_1930)
    noronha = make_client(name="Ilhéu", state="PE", city="Fernando de Noronha")
    counts = eligibility.preview(Client.objects.all(), dialer_tenant, campaign_id, WEDNESDAY_1930)
    assert counts["skipped"] == {
        "nao_ligar_cliente": 1,
        "quitado": 1,
        "saldo_zero": 1,
        "em_acordo": 2,
        "nao_ligar_telefone": 1,
        "sem_telefone": 1,
        "limite_tentativas": 1,
        "enviado_recentemente": 1,
        "fora_do_horario": 1,
    }
    assert counts["to_send"] == 1 and counts["selected"] == 11
    # Noronha's window opens on Thursday at 08:00 island time, 07:00 in Brasília.
    assert counts["opens"] == [(datetime.datetime(2026, 12, 3, 7, 0, tzinfo=SAO_PAULO), 1)]
    sendable = eligibility.eligible(Client.objects.all(), dialer_tenant, campaign_id, WEDNESDAY_1930)
    assert list(sendable.values_list("pk", flat=True)) == [made["ok"].pk]
    assert noronha.pk not in sendable.values_list("pk", flat=True)


@pytest.mark.real_calling_hours
def test_time_zone_from_the_uf(tenant, make_client):
    """19:30 on a weekday in São Paulo: 17:30 in Acre (sendable), 20:30 in Fernando de Noronha (not)."""
    acre = make_client(name="Acreano", state="AC", city="Rio Branco")
    noronha_by_city = make_client(name="Ilhéu", state="PE", city="Fernando de Noronha")
    noronha_by_cep = make_client(name="Ilhéu 2", state="PE", city="", postal_code="53990-000")
    recife = make_client(name="Recifense", state="PE", city="Recife", postal_code="50030-000")
    sao_paulo = make_client(name="Paulistano", state="SP")
    sendable = set(
        eligibility.eligible(Client.objects.all(), tenant, None, WEDNESDAY_1930).values_list("pk", flat=True)
    )
    assert acre.pk in sendable and recife.pk in sendable and sao_paulo.pk in sendable
    assert noronha_by_city.pk not in sendable and noronha_by_cep.pk not in sendable
    # At 20:00 São Paulo is closed too; Acre (18:00) and Manaus (19:00) are not.
    eight_pm = WEDNESDAY_1930.replace(hour=20, minute=0)
    sendable = set(eligibility.eligible(Client.objects.all(), tenant, None, eight_pm).values_list("pk", flat=True))
    assert sendable == {acre.pk}


@pytest.mark.real_calling_hours
def test_sundays_holidays_and_saturday_afternoons_are_closed(tenant, make_client):
    make_client(state="SP")
    policy = eligibility.CallingPolicy.for_tenant(tenant)
    sunday = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=SAO_PAULO)
    christmas = datetime.datetime(2026, 12, 25, 10, 0, tzinfo=SAO_PAULO)  # a Friday
    saturday_3pm = datetime.datetime(2026, 12, 5, 15, 0, tzinfo=SAO_PAULO)
    monday_8am = datetime.datetime(2026, 12, 7, 8, 0, tzinfo=SAO_PAULO)
    assert policy.next_opening("SP", sunday) == monday_8am
    assert policy.next_opening("SP", saturday_3pm) == monday_8am
    assert policy.next_opening("SP", christmas) == datetime.datetime(2026, 12, 26, 8, 0, tzinfo=SAO_PAULO)
    assert policy.next_opening("SP", monday_8am) is None
    # A state holiday: 9 July (Revolução Constitucionalista) closes São Paulo, not Rio.
    july_9 = datetime.datetime(2026, 7, 9, 10, 0, tzinfo=SAO_PAULO)
    assert policy.next_opening("SP", july_9) is not None and policy.next_opening("RJ", july_9) is None
    # The tenant's own window.
    tenant.settings = {eligibility.HOURS_KEY: {"weekdays": "09:00-18:00", "saturday": ""}}
    policy = eligibility.CallingPolicy.for_tenant(tenant)
    assert policy.next_opening("SP", monday_8am) == monday_8am.replace(hour=9)
    assert policy.next_opening("SP", saturday_3pm) == monday_8am.replace(hour=9)


def test_cli_preview_lists_each_reason(dialer_tenant, campaign_id, make_client):
    one_of_each(dialer_tenant, make_client, campaign_id)
    # Closed all week: the client who may otherwise be called is outside the window.
    dialer_tenant.settings = {
        **dialer_tenant.settings,
        eligibility.HOURS_KEY: {"weekdays": "", "saturday": "", "sunday": "", "holidays": ""},
    }
    dialer_tenant.save()
    out = StringIO()
    call_command("send_to_dialer", "--tenant", "alfa", "--campaign", str(campaign_id), "--preview", stdout=out)
    text = out.getvalue()
    assert "10 selecionados; 0 seriam enviados" in text
    for label, count in [
        ("não ligar (cliente)", 1),
        ("quitado", 1),
        ("saldo zero", 1),
        ("acordo ativo ou aguardando aprovação", 2),
        ("não ligar (telefone)", 1),
        ("sem telefone discável", 1),
        ("enviado recentemente a esta campanha", 1),
    ]:
        assert f"ignorados — {label}: {count}" in text
    # Held, not skipped: accepted now, on the list once the cap resets and the window opens.
    for label, count in [("limite de tentativas", 1), ("fora do horário permitido no estado do devedor", 1)]:
        assert f"aguardando — {label}: {count}" in text
    assert "agora: 0; quando a janela abrir: 1 (primeiro às " in text
    assert "fora do horário abrem:" in text
    assert not DialerExport.objects.exclude(list_name="antes").exists(), "a preview creates no export"


def test_cli_export_skips_and_sends_only_the_callable(dialer_tenant, campaign_id, make_client, sandbox):
    made = one_of_each(dialer_tenant, make_client, campaign_id)
    out = StringIO()
    call_command("send_to_dialer", "--tenant", "alfa", "--campaign", str(campaign_id), "--wait", stdout=out)
    export = DialerExport.objects.exclude(list_name="antes").get()
    # The capped client is accepted and held (the projection adds it when the cap resets); only the callable one
    # reached the list.
    assert export.to_send_count == 2 and export.sent_count == 1
    assert {c["identifier"] for c in sandbox.account("alfa").contacts[export.list_id]} == {str(made["ok"].pk)}
    assert "2 clientes (2 telefones)" in out.getvalue() and "ignorados — limite" not in out.getvalue()
    held = DialerExportItem.objects.get(export=export, status=DialerExportItem.Status.HELD)
    assert held.client_id != made["ok"].pk


def test_worker_rechecks_the_rule_when_sending(dialer_tenant, campaign_id, make_client, sandbox):
    """Marked "não ligar" after the selection was frozen: the worker skips it with the reason."""
    keep, stop = make_client(), make_client()
    export = exports.create_export(dialer_tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False)
    assert export.to_send_count == 2
    core_services.set_do_not_call(stop, "advogado")
    export = exports.run_export(export.pk)
    assert export.status == DialerExport.Status.DONE and export.sent_count == 1 and export.to_send_count == 1
    assert export.skipped == {"nao_ligar_cliente": 1}
    item = DialerExportItem.objects.get(export=export, client=stop)
    assert item.status == DialerExportItem.Status.SKIPPED and item.error == "não ligar (cliente)"
    assert {c["identifier"] for c in sandbox.account("alfa").contacts[export.list_id]} == {str(keep.pk)}


@pytest.mark.real_calling_hours
def test_a_split_shift_closes_the_gap_between_its_shifts(tenant, make_client):
    """ "08:00-12:00, 14:00-18:00" on weekdays: at 13:00 (the lunch gap, clock frozen) nobody is sent, and the
    preview says when the afternoon shift opens; at 12:00 sharp the morning shift is over, at 14:00 it is open."""
    from freezegun import freeze_time

    tenant.settings = {eligibility.HOURS_KEY: {"weekdays": "08:00-12:00, 14:00-18:00"}}
    tenant.save()
    paulistano = make_client(name="Paulistano", state="SP")
    lunch = datetime.datetime(2026, 12, 2, 13, 0, tzinfo=SAO_PAULO)
    with freeze_time(lunch):
        assert not eligibility.eligible(Client.objects.all(), tenant, None).exists()
        counts = eligibility.preview(Client.objects.all(), tenant, None)
    assert counts["skipped"] == {"fora_do_horario": 1}
    assert counts["opens"] == [(lunch.replace(hour=14), 1)]
    for hour, open_ in ((8, True), (11, True), (12, False), (14, True), (17, True), (18, False)):
        with freeze_time(lunch.replace(hour=hour, minute=0)):
            sendable = list(eligibility.eligible(Client.objects.all(), tenant, None).values_list("pk", flat=True))
        assert sendable == ([paulistano.pk] if open_ else []), hour
