"""Enviar para discador against the sandbox 3C Plus over real HTTP."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from core.models import Client
from dialer import eligibility
from dialer.exports import create_export, retry_failures, run_export
from dialer.models import DialerExport, DialerExportItem
from sandbox.fake import Sandbox
from sandbox.server import SandboxServer
from tenants.settings_schema import clean_settings


def export_and_run(tenant, queryset, campaign_id, **kwargs):
    export = create_export(tenant, None, queryset, campaign_id=campaign_id, enqueue=False, **kwargs)
    return run_export(export.pk)


def received(sandbox, export):
    return sandbox.account("alfa").contacts[export.list_id]


def test_payload_shape_and_several_phones(dialer_tenant, campaign_id, make_client, sandbox):
    client = make_client(
        name="Ana Souza", phones=("+5511987654321", "+551133334444"), debts=((Decimal("1234.56"), 40),)
    )
    export = export_and_run(dialer_tenant, Client.objects.all(), campaign_id)
    assert export.status == DialerExport.Status.DONE
    items = received(sandbox, export)
    assert [i["phone"] for i in items] == ["11987654321", "1133334444"]
    assert {i["identifier"] for i in items} == {str(client.pk)}
    assert items[0]["data"] == {
        "nome": "Ana Souza",
        "cpf": client.cpf,
        "valor_em_aberto": "1234.56",
        "credor": "Banco Horizonte",
        "external_id": client.external_id,
        "url_atendimento": f"https://cobranca.exemplo.com.br/atendimento/{client.pk}/",
        "uf": "",
        "fuso": "America/Sao_Paulo",
    }
    item = DialerExportItem.objects.get(export=export)
    assert item.status == "enviado" and item.phones == ["11987654321", "1133334444"]
    assert (export.sent_count, export.sent_phones, export.phones_count) == (1, 2, 2)


def test_batching(dialer_tenant, campaign_id, make_client, sandbox):
    for _ in range(7):
        make_client(phones=("+5511987654321",))
    export = export_and_run(dialer_tenant, Client.objects.all(), campaign_id, batch_size=3, list_weight=4)
    posts = [r for r in sandbox.requests if r["path"].endswith("mailing.json")]
    assert [len(r["body"]) for r in posts] == [3, 3, 1]
    assert export.sent_count == 7
    assert sandbox.account("alfa").lists[export.list_id]["weight"] == 4
    assert sandbox.requests[-1]["path"].endswith("/updateWeight"), "the weight is set at the end"


def test_skip_rules_and_preview(dialer_tenant, campaign_id, make_client, sandbox):
    make_client(name="Sem telefone", phones=())
    make_client(name="Quitado", status=Client.Status.PAID)
    make_client(name="Em acordo", status=Client.Status.AGREEMENT)
    make_client(name="Ok 1")
    ok2 = make_client(name="Ok 2")
    counts = eligibility.preview(Client.objects.all(), dialer_tenant, campaign_id)
    assert counts["selected"] == 5 and counts["to_send"] == 2 and counts["phones"] == 2
    assert counts["skipped"] == {"sem_telefone": 1, "quitado": 1, "em_acordo": 1}
    export_and_run(dialer_tenant, Client.objects.filter(pk=ok2.pk), campaign_id)
    # Sent to this campaign less than 24 h ago: skipped; another campaign: not.
    again = eligibility.preview(Client.objects.all(), dialer_tenant, campaign_id)
    assert again["to_send"] == 1 and again["skipped"]["enviado_recentemente"] == 1
    other_campaign = [c["id"] for c in sandbox.account("alfa").campaigns.values()][1]
    assert eligibility.preview(Client.objects.all(), dialer_tenant, other_campaign)["to_send"] == 2


def test_a_422_fails_only_that_batch(dialer_tenant, campaign_id, make_client, sandbox):
    clients = [make_client() for _ in range(6)]
    sandbox.set_faults(reject_identifiers=frozenset({str(clients[1].pk)}))
    export = export_and_run(dialer_tenant, Client.objects.all(), campaign_id, batch_size=2)
    assert export.status == DialerExport.Status.PARTIAL
    assert (export.sent_count, export.failed_count) == (4, 2)
    failed = DialerExportItem.objects.filter(export=export, status="falhou")
    assert {i.client_id for i in failed} == {clients[0].pk, clients[1].pk}
    assert "Contato bloqueado" in failed.first().error and "Contato bloqueado" in export.error_summary
    # Reenviar falhas, once the dialer accepts them.
    sandbox.set_faults(reject_identifiers=frozenset())
    retry_failures(export)
    export = run_export(export.pk)
    assert export.status == DialerExport.Status.DONE and export.sent_count == 6 and export.failed_count == 0
    assert len(received(sandbox, export)) == 6


def test_authentication_failure_stops_the_export(dialer_tenant, campaign_id, make_client):
    make_client()
    export = create_export(dialer_tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False)
    dialer_tenant.settings = clean_settings(
        {**dialer_tenant.settings, "threecplus_api_key": "revogado-99999"}, stored=dialer_tenant.settings
    )
    dialer_tenant.save()
    export = run_export(export.pk)
    assert export.status == DialerExport.Status.FAILED
    assert "Token do 3C Plus inválido" in export.error_summary


def test_transient_faults_every_contact_arrives_exactly_once(dialer_tenant, campaign_id, make_client, sandbox):
    from core.seeding import seed_wallet

    seed_wallet(dialer_tenant, 300, seed=5)
    sandbox.set_faults(fail_rate=0.1, timeout_rate=0.03, timeout_seconds=0.6)
    export = create_export(
        dialer_tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False, batch_size=40
    )

    def fast_api(tenant):
        from dialer.client import RetryPolicy
        from dialer.tenant_api import api_for

        return api_for(tenant, timeout=0.3, retry=RetryPolicy(attempts=8, base_delay=0.01, max_delay=0.02))

    export = run_export(export.pk, api_factory=fast_api)
    assert export.status == DialerExport.Status.DONE, export.error_summary
    items = received(sandbox, export)
    keys = [(i["identifier"], i["phone"]) for i in items]
    assert len(keys) == len(set(keys)) == export.phones_count
    assert sandbox.account("alfa").duplicates[export.list_id] == 0
    assert sandbox.injected > 0  # the faults did happen, and still no contact arrived twice


def test_killed_worker_resumes_without_duplicates(dialer_tenant, campaign_id, make_client, sandbox):
    for _ in range(10):
        make_client(phones=("+5511987654321", "+5511933334444"))
    export = create_export(
        dialer_tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False, batch_size=4
    )

    class Killed(BaseException):
        pass

    def dying_api(tenant):
        from dialer.tenant_api import api_for

        api = api_for(tenant)
        original = api.add_mailing
        calls = {"n": 0}

        def add_mailing(*args):
            calls["n"] += 1
            original(*args)  # the dialer got the batch…
            if calls["n"] == 3:
                raise Killed  # …and the worker died before recording it

        api.add_mailing = add_mailing
        return api

    with pytest.raises(Killed):
        run_export(export.pk, api_factory=dying_api)
    assert DialerExportItem.objects.filter(export=export, status="enviando").count() == 2
    export = run_export(export.pk)  # the task runs again
    assert export.status == DialerExport.Status.DONE and export.sent_count == 10
    keys = [(i["identifier"], i["phone"]) for i in received(sandbox, export)]
    assert len(keys) == len(set(keys)) == 20


@pytest.mark.django_db(transaction=True)
def test_two_exports_of_one_tenant_at_the_same_time(settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has a single writer)")
    from core.seeding import seed_wallet
    from tenants.models import Tenant

    server = SandboxServer(Sandbox()).start()
    try:
        tenant = Tenant.objects.create(name="Concorrente", slug="concorrente")
        tenant.settings = clean_settings({"threecplus_base_url": server.url, "threecplus_api_key": "sandbox-conc"})
        tenant.save()
        seed_wallet(tenant, 200, seed=9)
        campaigns = [c["id"] for c in server.sandbox.account("conc").campaigns.values()][:2]
        exports = [
            create_export(
                tenant, None, Client.objects.filter(tenant=tenant), campaign_id=c, enqueue=False, batch_size=25
            )
            for c in campaigns
        ]
        results = {}

        def run(export_id):
            results[export_id] = run_export(export_id).status
            connection.close()

        threads = [threading.Thread(target=run, args=(e.pk,)) for e in exports]
        threads += [threading.Thread(target=run, args=(exports[0].pk,))]  # the same export twice: one runs
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for export in exports:
            export.refresh_from_db()
            assert export.status == DialerExport.Status.DONE
            items = server.sandbox.account("conc").contacts[export.list_id]
            keys = [(i["identifier"], i["phone"]) for i in items]
            assert len(keys) == len(set(keys)) == export.phones_count
    finally:
        server.stop()


def test_send_to_dialer_command_waits_with_filters(dialer_tenant, campaign_id, make_client, sandbox):
    import io

    from django.core.management import call_command

    make_client(name="Atraso longo", debts=((Decimal("100"), 120),))
    make_client(name="Atraso curto", debts=((Decimal("100"), 10),))
    out = io.StringIO()
    call_command(
        "send_to_dialer",
        "--tenant",
        dialer_tenant.slug,
        "--campaign",
        str(campaign_id),
        "--aging",
        "91_180",
        "--weight",
        "2",
        "--wait",
        stdout=out,
        stderr=io.StringIO(),
    )
    export = DialerExport.objects.get()
    assert export.status == DialerExport.Status.DONE and export.sent_count == 1
    assert [i["data"]["nome"] for i in received(sandbox, export)] == ["Atraso longo"]
    assert sandbox.account("alfa").lists[export.list_id]["weight"] == 2
    assert "Concluído: 1 enviados" in out.getvalue()


def test_send_to_dialer_queues_without_wait_and_not_with_it(
    dialer_tenant, campaign_id, make_client, django_capture_on_commit_callbacks
):
    import io

    from django.core.management import call_command

    make_client()
    args = ["send_to_dialer", "--tenant", dialer_tenant.slug, "--campaign", str(campaign_id)]
    with django_capture_on_commit_callbacks() as queued:
        out = io.StringIO()
        call_command(*args, stdout=out)
    assert len(queued) == 1 and "Na fila" in out.getvalue()
    assert DialerExport.objects.get().status == DialerExport.Status.QUEUED
    DialerExport.objects.all().delete()
    with django_capture_on_commit_callbacks() as queued:
        call_command(*args, "--wait", stdout=io.StringIO(), stderr=io.StringIO())
    assert queued == [], "--wait sends in the command; nothing goes to the worker"
    assert DialerExport.objects.get().status == DialerExport.Status.DONE


@pytest.mark.parametrize("lost_answer_status", [None, 502], ids=["conexao-caida", "502-do-gateway"])
def test_lost_answers_store_every_contact_exactly_once(dialer_tenant, sandbox, lost_answer_status):
    """3C Plus stores a fifth of the batches and the answer never arrives: the campaign still ends with
    exactly the contacts of a clean run."""
    from core.seeding import seed_wallet
    from dialer.client import RetryPolicy
    from dialer.tenant_api import api_for

    seed_wallet(dialer_tenant, 1500, seed=11)
    campaigns = [c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"]]

    def fast_api(tenant):
        return api_for(tenant, retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.02))

    def run(campaign_id):
        export = create_export(
            dialer_tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False, batch_size=100
        )
        export = run_export(export.pk, api_factory=fast_api)
        assert export.status == DialerExport.Status.DONE, export.error_summary
        return export, [(i["identifier"], i["phone"]) for i in received(sandbox, export)]

    _, clean = run(campaigns[0])
    sandbox.set_faults(lost_answer_rate=0.2, lost_answer_status=lost_answer_status)
    export, faulty = run(campaigns[1])
    duplicates = len(faulty) - len(set(faulty))
    missing = len(set(clean) - set(faulty))
    print(
        f"\n{len(clean)} contatos; {sandbox.answers_lost} respostas perdidas "
        f"({lost_answer_status or 'conexão fechada'}): {duplicates} duplicados, {missing} faltando"
    )
    assert sandbox.answers_lost > 5
    assert duplicates == 0 and sandbox.account("alfa").duplicates[export.list_id] == 0
    assert sorted(faulty) == sorted(clean) and export.sent_phones == len(clean)


def test_a_lost_answer_is_never_reposted_by_the_client(make_dialer_api, sandbox):
    """The generic retry re-sends GETs, never a mailing upload whose outcome is unknown."""
    from dialer.errors import UnknownOutcomeError

    api = make_dialer_api()
    campaign_id = next(iter(sandbox.account("alfa").campaigns))
    mailing_list = api.create_list(campaign_id, "L")
    sandbox.set_faults(lost_answer_rate=1.0)
    with pytest.raises(UnknownOutcomeError):
        api.add_mailing(campaign_id, mailing_list["id"], [{"phone": "11987654321", "identifier": "1"}])
    posts = [r for r in sandbox.requests if r["path"].endswith("mailing.json")]
    assert len(posts) == 1 and sandbox.answers_lost == 1
    sandbox.set_faults(lost_answer_rate=0.0, fail_next=1, fail_status=503)
    assert api.list_campaigns(), "a GET is still retried"


def test_uploads_in_flight_with_lost_answers_each_contact_once_nothing_stranded(dialer_tenant, sandbox, settings):
    """Several batches on the wire at once while 3C Plus loses answers: every batch removes only its own pairs
    before posting again, so the list ends with each contact once, and no item is left behind."""
    from core.models import ClientPhone
    from core.seeding import seed_wallet
    from dialer import selectors
    from dialer.client import RetryPolicy, dial_number
    from dialer.tenant_api import api_for

    settings.DIALER_EXPORT_UPLOADS_IN_FLIGHT = 4
    seed_wallet(dialer_tenant, 600, seed=17)
    campaign_id = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])
    sandbox.set_faults(lost_answer_rate=0.15, latency_ms=30)
    export = create_export(
        dialer_tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False, batch_size=25
    )
    export = run_export(
        export.pk, api_factory=lambda t: api_for(t, retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.02))
    )
    assert export.status == DialerExport.Status.DONE, export.error_summary
    assert sandbox.answers_lost >= 5 and sandbox.max_in_flight >= 2, "faults happened with uploads overlapping"
    keys = [(i["identifier"], i["phone"]) for i in received(sandbox, export)]
    frozen = set(DialerExportItem.objects.filter(export=export).values_list("client_id", flat=True))
    expected = {
        (str(client_id), dial_number(number))
        for client_id, number in ClientPhone.objects.filter(client_id__in=frozen, active=True).values_list(
            "client_id", "number"
        )
    }
    assert len(keys) == len(set(keys)) and set(keys) == expected
    assert sandbox.account("alfa").duplicates[export.list_id] == 0
    assert export.sent_phones == len(keys) and export.sent_count == export.to_send_count == len(frozen)
    assert set(DialerExportItem.objects.filter(export=export).values_list("status", flat=True)) == {"enviado"}
    assert not selectors.stranded_exports().exists()
