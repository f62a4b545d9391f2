"""Money arrives by itself, against the sandbox PSP over loopback HTTP: a charge per installment, the webhook posts,
the pull recovers a lost webhook, the CNAB retorno posts boletos, what matches nothing waits for a supervisor."""

import datetime
import html
import json
import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from attendance.models import Agreement, AgreementInstallment, Payment
from attendance.negotiation import Proposal
from attendance.services import cancel_agreement, create_agreement
from core.models import Client
from dialer.models import DialerExport, DialerRemoval
from payments import charges, provider, receiving
from payments.models import Charge, PixSync, ReceivedPayment
from tenants.models import Tenant
from tests.payments.conftest import configure_provider, first_due

D = Decimal
pytestmark = pytest.mark.usefixtures("immediate_tasks", "no_entry")


def send_to_dialer(client, supervisor, debtor, sandbox, capture):
    client.force_login(supervisor)
    campaign = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"])
    data = {"action": "send_to_dialer", "index": "0", "_selected_action": [debtor.pk]}
    with capture(execute=True):
        client.post("/admin/core/client/", {**data, "confirm": "1", "campaign": campaign, "list_name": "Lista"})
    assert DialerExport.objects.get().sent_count == 1


def contacts_of(sandbox, debtor) -> int:
    return sum(
        1
        for items in sandbox.account("alfa").contacts.values()
        for item in items
        if str(item.get("identifier")) == str(debtor.pk)
    )


def agreement_of_three(tenant, operator, debtor, capture):
    with capture(execute=True):
        agreement = create_agreement(tenant, operator, debtor, Proposal(installments=3, first_due_date=first_due()))
    assert agreement.status == Agreement.Status.ACTIVE
    return agreement


def test_three_installments_paid_through_the_sandbox_settle_everything_with_no_human_action(
    client,
    supervisor,
    operator,
    pay_tenant,
    psp,
    sandbox,
    make_client,
    django_capture_on_commit_callbacks,
):
    debtor = make_client(name="Paga Sozinho", debts=((D("900.00"), 30),))
    send_to_dialer(client, supervisor, debtor, sandbox, django_capture_on_commit_callbacks)
    assert contacts_of(sandbox, debtor) == 1
    assert provider.test_connection(pay_tenant)["ok"]  # registers the webhook for the tenant's key
    assert psp.account("alfa").webhooks["financeiro@alfa.com.br"] == provider.webhook_url(pay_tenant)

    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)

    created = list(Charge.objects.filter(installment__agreement=agreement).order_by("installment__number"))
    assert [(c.kind, c.status) for c in created] == [("pix", "ativa")] * 3
    at_psp = psp.account("alfa").charges
    for charge, installment in zip(created, agreement.installments.order_by("number"), strict=True):
        cobv = at_psp[charge.txid]
        assert cobv["calendario"]["dataDeVencimento"] == installment.due_date.isoformat()
        assert cobv["valor"]["original"] == f"{installment.amount:.2f}"
        assert cobv["valor"]["multa"] == {"modalidade": "2", "valorPerc": "2.00"}
        assert cobv["valor"]["juros"] == {"modalidade": "3", "valorPerc": "1.00"}
        assert cobv["devedor"] == {"cpf": debtor.cpf, "nome": "Paga Sozinho"}
        assert charge.pix_code == cobv["pixCopiaECola"] and charge.pix_code.startswith("000201")

    for charge in created:
        with django_capture_on_commit_callbacks(execute=True):
            psp.pay("alfa", charge.txid)

    assert [status for _url, status in psp.account("alfa").deliveries] == [200, 200, 200]
    agreement.refresh_from_db()
    debtor.refresh_from_db()
    assert agreement.status == Agreement.Status.COMPLETED
    assert debtor.status == Client.Status.PAID
    payments = Payment.objects.filter(client=debtor)
    assert payments.count() == 3
    assert {p.source for p in payments} == {Payment.Source.PROVIDER}
    assert {p.external_id for p in payments} == {p["endToEndId"] for p in psp.account("alfa").received}
    assert set(Charge.objects.filter(installment__agreement=agreement).values_list("status", flat=True)) == {"paga"}
    assert contacts_of(sandbox, debtor) == 0
    assert DialerRemoval.objects.filter(client=debtor, reason="quitado").exists()
    assert all(r.status == DialerRemoval.Status.DONE for r in DialerRemoval.objects.filter(client=debtor))


def test_the_same_pix_delivered_twice_posts_once(
    pay_tenant, psp, operator, make_client, django_capture_on_commit_callbacks
):
    provider.test_connection(pay_tenant)
    debtor = make_client(debts=((D("600.00"), 30),))
    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)
    charge = Charge.objects.filter(installment__agreement=agreement).order_by("installment__number").first()
    with django_capture_on_commit_callbacks(execute=True):
        pix = psp.pay("alfa", charge.txid)
        psp.notify(psp.account("alfa"), psp.account("alfa").webhooks["financeiro@alfa.com.br"], [pix])
    assert Payment.objects.filter(client=debtor).count() == 1
    assert ReceivedPayment.objects.filter(external_id=pix["endToEndId"]).count() == 1


def test_a_lost_webhook_is_recovered_by_the_pull(
    pay_tenant, psp, operator, make_client, django_capture_on_commit_callbacks
):
    provider.test_connection(pay_tenant)
    debtor = make_client(debts=((D("600.00"), 30),))
    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)
    charge = Charge.objects.filter(installment__agreement=agreement).order_by("installment__number").first()
    pix = psp.pay("alfa", charge.txid, lose_webhook=True)
    installment = charge.installment
    installment.refresh_from_db()
    assert installment.status == AgreementInstallment.Status.OPEN

    with django_capture_on_commit_callbacks(execute=True):
        assert receiving.pull_received(pay_tenant) == 1
    installment.refresh_from_db()
    assert installment.status == AgreementInstallment.Status.PAID
    assert Payment.objects.get(client=debtor).external_id == pix["endToEndId"]
    with django_capture_on_commit_callbacks(execute=True):
        assert receiving.pull_received(pay_tenant) == 0  # read again past the watermark's overlap: nothing new
    assert Payment.objects.filter(client=debtor).count() == 1


def test_the_cnab_retorno_posts_the_boletos(
    client, supervisor, pay_tenant, psp, operator, make_client, django_capture_on_commit_callbacks
):
    configure_provider(pay_tenant, pay_tenant.setting("payments_base_url"), payments_boleto="true")
    debtor = make_client(debts=((D("600.00"), 30),))
    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)
    boletos = list(
        Charge.objects.filter(installment__agreement=agreement, kind="boleto").order_by("installment__number")
    )
    assert len(boletos) == 3 and all(b.status == "ativa" and len(b.boleto_line) == 47 for b in boletos)
    for boleto in boletos:
        psp.pay_boleto("alfa", boleto.txid)
    retorno = psp.cnab_retorno("alfa").encode("ascii")
    # A broken record in the middle is reported and skipped, never the whole file.
    lines = retorno.split(b"\r\n")
    retorno = b"\r\n".join([*lines[:2], b"3" * 100, *lines[2:]])

    client.force_login(supervisor)
    url = "/admin/payments/receivedpayment/importar-cnab/"
    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": SimpleUploadedFile("retorno.ret", retorno)}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "3 lançado(s)" in html and "Linha 3" in html
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.COMPLETED
    assert set(Payment.objects.filter(client=debtor).values_list("method", flat=True)) == {"boleto"}
    # The same file again changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": SimpleUploadedFile("retorno.ret", retorno)}, follow=True)
    assert "3 já lido(s)" in response.content.decode()
    assert Payment.objects.filter(client=debtor).count() == 3
    # The PIX charges of installments paid by boleto are cancelled at the PSP by the sweep.
    with django_capture_on_commit_callbacks(execute=True):
        charges.sweep_charges()
    pix = Charge.objects.filter(installment__agreement=agreement, kind="pix")
    assert set(pix.values_list("status", flat=True)) == {"cancelada"}
    assert {psp.account("alfa").charges[c.txid]["status"] for c in pix} == {"REMOVIDA_PELO_USUARIO_RECEBEDOR"}


def test_cancelling_the_agreement_cancels_its_open_charges(
    supervisor, pay_tenant, psp, operator, make_client, django_capture_on_commit_callbacks
):
    debtor = make_client(debts=((D("600.00"), 30),))
    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_agreement(pay_tenant, supervisor, agreement, "Cliente desistiu.")
    txids = Charge.objects.filter(installment__agreement=agreement).values_list("txid", flat=True)
    assert set(Charge.objects.filter(installment__agreement=agreement).values_list("status", flat=True)) == {
        "cancelada"
    }
    assert {psp.account("alfa").charges[t]["status"] for t in txids} == {"REMOVIDA_PELO_USUARIO_RECEBEDOR"}


def test_a_broken_agreement_has_its_charges_cancelled_by_the_sweep(
    pay_tenant, psp, operator, make_client, django_capture_on_commit_callbacks
):
    debtor = make_client(debts=((D("600.00"), 30),))
    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)
    Agreement.objects.filter(pk=agreement.pk).update(status=Agreement.Status.BROKEN)  # as the daily job does
    with django_capture_on_commit_callbacks(execute=True):
        assert len(charges.sweep_charges()) == 3
    assert set(Charge.objects.filter(installment__agreement=agreement).values_list("status", flat=True)) == {
        "cancelada"
    }


def test_without_a_provider_no_charge_and_the_static_code_stays(
    tenant, operator, make_client, django_capture_on_commit_callbacks
):
    from attendance import pix
    from tenants.settings_schema import clean_settings
    from tests.payments.conftest import PIX_SETTINGS

    tenant.settings = clean_settings(PIX_SETTINGS)
    tenant.save()
    debtor = make_client(debts=((D("600.00"), 30),))
    agreement = agreement_of_three(tenant, operator, debtor, django_capture_on_commit_callbacks)
    assert not Charge.objects.exists()
    codes = pix.charges(tenant, list(agreement.installments.all()))
    assert len(codes) == 3 and not any(c.dynamic for c in codes)
    assert pix.parse(codes[0].code)["26"].endswith("financeiro@alfa.com.br")


def test_a_pix_matching_nothing_waits_until_a_supervisor_links_it(
    client, supervisor, operator, pay_tenant, psp, make_client, django_capture_on_commit_callbacks
):
    debtor = make_client(debts=((D("600.00"), 30),))
    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)
    body = {
        "pix": [
            {
                "endToEndId": "E00000000202612011200abcdefghijk",
                "txid": "naoexiste" * 3,
                "valor": "200.00",
                "horario": "2026-12-01T12:00:00-03:00",
            }
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/pagamentos/webhook/" + provider.webhook_token(pay_tenant) + "/pix",
            json.dumps(body),
            content_type="application/json",
        )
    assert response.status_code == 200
    received = ReceivedPayment.objects.get()
    assert received.status == ReceivedPayment.Status.UNMATCHED
    client.force_login(supervisor)
    listing = client.get("/admin/payments/unmatchedpayment/")
    assert "E00000000202612011200abcdefghijk" in listing.content.decode()
    url = f"/admin/payments/unmatchedpayment/{received.pk}/vincular/"
    response = client.post(url, {"agreement": agreement.pk, "number": 99})
    assert "Parcela não encontrada" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"agreement": agreement.pk, "number": 1})
    assert response.status_code == 302
    received.refresh_from_db()
    assert received.status == ReceivedPayment.Status.POSTED and received.resolved_by == supervisor
    first = agreement.installments.get(number=1)
    assert first.paid_amount == D("200.00")


def test_an_operator_cannot_open_the_queue_and_another_tenant_sees_nothing(client, operator, pay_tenant, other_tenant):
    from tenants.models import Role
    from tests.conftest import make_user

    received = ReceivedPayment.objects.create(
        tenant=pay_tenant,
        source="webhook",
        external_id="E1",
        amount=D("1.00"),
        paid_on="2026-01-02",
        status=ReceivedPayment.Status.UNMATCHED,
    )
    client.force_login(operator)
    assert client.get("/admin/payments/unmatchedpayment/").status_code in (302, 403)
    client.force_login(make_user(other_tenant, Role.SUPERVISOR))
    assert client.get(f"/admin/payments/unmatchedpayment/{received.pk}/vincular/").status_code == 404
    assert "E1" not in client.get("/admin/payments/unmatchedpayment/").content.decode()


def test_the_sandbox_page_pays_a_charge_and_hands_out_the_cnab_retorno(
    client, supervisor, tenant, operator, make_client, django_capture_on_commit_callbacks, settings
):
    """The in-app sandbox PSP (the demo's): the tenant's charges at /sandbox/psp/, "Pagar" as the debtor, and the
    pull posts it (the webhook of this page leaves on a thread of its own)."""
    from sandbox import pix_views

    pix_views.PIX_SANDBOX.accounts.clear()
    configure_provider(
        tenant,
        "http://testserver/sandbox/psp/api",
        payments_client_id="sandbox-alfa",
        payments_client_secret="segredo-alfa",
        payments_boleto="true",
    )
    in_app = HttpClient()

    def api_over_test_client(method, url, **kwargs):  # the fake mounted in the app, reached through Django
        import httpx

        path = url.removeprefix("http://testserver")
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (kwargs.get("headers") or {}).items()}
        if kwargs.get("auth"):
            import base64

            headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(":".join(kwargs["auth"]).encode()).decode()
        if "json" in kwargs:
            body, ctype = json.dumps(kwargs["json"]), "application/json"
        else:
            body, ctype = (
                "&".join(f"{k}={v}" for k, v in (kwargs.get("data") or {}).items()),
                "application/x-www-form-urlencoded",
            )
        if kwargs.get("params"):
            path += "?" + urlencode(kwargs["params"])
        answer = in_app.generic(method, path, body, content_type=ctype, **headers)
        return httpx.Response(answer.status_code, content=answer.content, headers=dict(answer.headers))

    import httpx

    original = httpx.Client.request
    httpx.Client.request = lambda self, method, url, **kwargs: api_over_test_client(method, str(url), **kwargs)
    try:
        debtor = make_client(debts=((D("300.00"), 30),))
        agreement = agreement_of_three(tenant, operator, debtor, django_capture_on_commit_callbacks)
        charge = Charge.objects.filter(installment__agreement=agreement, kind="pix").order_by("installment__number")[0]
        boleto = Charge.objects.filter(installment__agreement=agreement, kind="boleto").order_by("installment__number")[
            0
        ]
        client.force_login(supervisor)
        assert charge.txid in client.get("/sandbox/psp/").content.decode()
        response = client.post("/sandbox/psp/pagar/", {"txid": charge.txid, "lose_webhook": "1"}, follow=True)
        assert "sem webhook" in response.content.decode()
        client.post("/sandbox/psp/pagar/", {"txid": boleto.txid, "kind": "boleto"})
        retorno = client.get("/sandbox/psp/retorno-cnab/").content
        assert retorno.splitlines()[0].startswith(b"001") and len(retorno.splitlines()[0]) == 240
        with django_capture_on_commit_callbacks(execute=True):
            assert receiving.pull_received(tenant) == 1
    finally:
        httpx.Client.request = original
    charge.installment.refresh_from_db()
    assert charge.installment.status == AgreementInstallment.Status.PAID
    # Another tenant's back office cannot open this account's page.
    from tenants.models import Role
    from tests.conftest import make_user

    other = make_user(Tenant.objects.create(name="Outra", slug="outra"), Role.SUPERVISOR)
    client.force_login(other)
    assert client.get("/sandbox/psp/").status_code == 403


def test_the_regua_and_the_chat_offer_the_dynamic_pix_of_the_next_installment(
    pay_tenant, operator, psp, make_client, django_capture_on_commit_callbacks
):
    """The template variable {pix} (messaging) reads the same charge the atendimento shows: the provider's dynamic
    code of the next open installment, not the tenant's static one."""
    from messaging.services import variables_for

    debtor = make_client(name="Lê no WhatsApp", debts=((D("600.00"), 30),))
    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)
    first = Charge.objects.get(installment__agreement=agreement, installment__number=1, kind="pix")
    assert (
        variables_for(Client.objects.get(pk=debtor.pk))["pix"]
        == first.pix_code
        == psp.account("alfa").charges[first.txid]["pixCopiaECola"]
    )


def test_a_pix_devolucao_links_the_supervisor_to_the_reversal_of_the_payment_it_returns(
    client, supervisor, operator, pay_tenant, psp, make_client, django_capture_on_commit_callbacks
):
    """The PSP reports a devolução of a PIX we posted: the queue offers "Estornar o pagamento" on that very payment,
    the form comes filled (Devolução PIX and its id), and posting it reopens the installment."""
    provider.test_connection(pay_tenant)
    debtor = make_client(debts=((D("600.00"), 30),))
    agreement = agreement_of_three(pay_tenant, operator, debtor, django_capture_on_commit_callbacks)
    charge = Charge.objects.filter(installment__agreement=agreement).order_by("installment__number").first()
    with django_capture_on_commit_callbacks(execute=True):
        pix = psp.pay("alfa", charge.txid)
    payment = Payment.objects.get(client=debtor)
    refunded = {**pix, "devolucoes": [{"id": "D77", "rtrId": "D77x", "valor": pix["valor"], "status": "DEVOLVIDO"}]}
    with django_capture_on_commit_callbacks(execute=True):
        psp.notify(psp.account("alfa"), psp.account("alfa").webhooks["financeiro@alfa.com.br"], [refunded])
    assert Payment.objects.get(client=debtor).reversed_at is None  # money never leaves without a person

    client.force_login(supervisor)
    listing = client.get("/admin/payments/unmatchedpayment/").content.decode()
    link = re.search(r'href="(/admin/attendance/payment/(\d+)/estornar/\?[^"]+)"', listing)
    assert link and int(link.group(2)) == payment.pk, listing
    form = client.get(html.unescape(link.group(1))).content.decode()
    assert 'value="devolucao_pix" selected' in form and "Devolução PIX DEV:D77" in form
    response = client.post(
        f"/admin/attendance/payment/{payment.pk}/estornar/",
        {"kind": "devolucao_pix", "reason": "Devolução PIX DEV:D77"},
    )
    assert response.status_code == 302
    payment.refresh_from_db()
    charge.installment.refresh_from_db()
    assert payment.reversal_kind == "devolucao_pix" and payment.reversed_by == supervisor
    assert charge.installment.status == AgreementInstallment.Status.OPEN


def test_the_pull_is_queued_once_per_interval_for_each_tenant_with_a_provider(pay_tenant, other_tenant, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    assert receiving.pull_due_tenants() == [pay_tenant.pk], "only tenants with a PSP configured"
    assert receiving.pull_due_tenants() == [], "not due again yet"
    PixSync.objects.filter(tenant=pay_tenant).update(
        last_run_at=timezone.now() - datetime.timedelta(seconds=settings.PAYMENTS_PULL_EVERY_SECONDS + 1)
    )
    assert receiving.pull_due_tenants() == [pay_tenant.pk], "due again after the interval"
    assert not PixSync.objects.filter(tenant=other_tenant).exists()


def test_a_file_paying_off_many_agreements_cancels_their_charges_in_one_task(
    pay_tenant, psp, operator, make_client, django_capture_on_commit_callbacks, monkeypatch
):
    from django.tasks.backends.immediate import ImmediateBackend

    from attendance.payment_import import import_payment_rows

    debtors = [make_client(debts=((D("300.00"), 30),)) for _ in range(3)]
    agreements = [agreement_of_three(pay_tenant, operator, d, django_capture_on_commit_callbacks) for d in debtors]
    assert Charge.objects.filter(status=Charge.Status.ACTIVE).count() == 9
    queued = []
    enqueue = ImmediateBackend.enqueue

    def spy(self, task, args, kwargs):
        queued.append((task.name, args))
        return enqueue(self, task, args, kwargs)

    monkeypatch.setattr(ImmediateBackend, "enqueue", spy)
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).strftime("%d/%m/%Y")
    rows = [
        (n, {"id_pagamento": f"F{i.pk}", "external_id": a.client.external_id, "acordo": str(a.pk),
             "parcela": str(i.number), "data": yesterday, "valor": str(i.amount)})
        for n, (a, i) in enumerate(((a, i) for a in agreements for i in a.installments.order_by("number")), 2)
    ]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        report = import_payment_rows(pay_tenant, None, rows)

    assert (report.imported, report.errors) == (9, [])
    assert {a.status for a in Agreement.objects.filter(pk__in=[a.pk for a in agreements])} == {"quitado"}
    syncs = [args for name, args in queued if name.endswith("sync_agreements_charges")]
    assert syncs == [([a.pk for a in agreements],)], "one task for the agreements the file paid off"
    assert not [name for name, _args in queued if name.endswith("sync_agreement_charges")]
    assert set(Charge.objects.values_list("status", flat=True)) == {"cancelada"}
    assert {c["status"] for c in psp.account("alfa").charges.values()} == {"REMOVIDA_PELO_USUARIO_RECEBEDOR"}
