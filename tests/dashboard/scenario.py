"""A small operation, counted by hand in the tests: the same one is built for two tenants."""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from attendance.models import Agreement, AgreementInstallment, CallDisposition, DispositionType, Payment
from core.models import Client, Creditor, Debt
from dialer.models import DialerCallEvent, DialerExport, DialerExportItem
from tenants.models import Membership, Role

D = Decimal
TODAY = datetime.date(2026, 3, 2)
NOW = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)  # noon in São Paulo, on TODAY


def local(day, hour, minute=0):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def build(tenant, n: int, today: datetime.date = TODAY) -> dict:
    """`n` keeps CPFs, usernames and external ids apart between tenants; agent ids are the same on purpose."""
    from tests.conftest import valid_cpf

    users = {}
    for name, role, agent in (
        ("op1", Role.OPERATOR, "101"),
        ("op2", Role.OPERATOR, "102"),
        ("sup", Role.SUPERVISOR, ""),
    ):
        user = get_user_model().objects.create_user(
            username=f"{name}-{tenant.slug}",
            password="senha-de-teste-123",
            first_name=name.upper(),
            is_staff=role != Role.OPERATOR,
        )
        Membership.objects.create(user=user, tenant=tenant, role=role, threecplus_agent_id=agent)
        users[name] = user
    creditor_a = Creditor.objects.create(tenant=tenant, name="Credor A")
    creditor_b = Creditor.objects.create(tenant=tenant, name="Credor B")
    clients = {}
    for i, creditor in ((1, creditor_a), (2, creditor_a), (3, creditor_a), (4, creditor_a), (5, creditor_b)):
        client = Client.objects.create(
            tenant=tenant, creditor=creditor, name=f"Cliente {i}", cpf=valid_cpf(100 * n + i), external_id=f"{n}-{i}"
        )
        Debt.objects.create(
            tenant=tenant,
            client=client,
            contract_code=f"K{i}",
            due_date=today - datetime.timedelta(days=60),
            original_amount=D("500.00"),
        )
        clients[i] = client
    e1 = DialerExport.objects.create(
        tenant=tenant,
        campaign_id=10,
        campaign_name="Campanha 10",
        list_name="L1",
        open_balance=D("1000.00"),
        status=DialerExport.Status.DONE,
    )
    e2 = DialerExport.objects.create(
        tenant=tenant,
        campaign_id=20,
        campaign_name="Campanha 20",
        list_name="L2",
        open_balance=D("500.00"),
        status=DialerExport.Status.DONE,
    )
    # Sent early in the morning: the day's calls, tabulações and agreements come after them.
    DialerExport.objects.filter(pk__in=[e1.pk, e2.pk]).update(created_at=local(today, 8))
    e1.refresh_from_db()
    e2.refresh_from_db()
    for export, i, status in (
        (e1, 1, "enviado"),
        (e1, 2, "enviado"),
        (e1, 3, "enviado"),
        (e1, 4, "falhou"),
        (e2, 5, "enviado"),
    ):
        DialerExportItem.objects.create(
            tenant=tenant,
            export=export,
            client=clients[i],
            campaign_id=export.campaign_id,
            status=status,
            sent_at=timezone.now() if status == "enviado" else None,
        )
    calls = [
        # client, agent, campaign, status, seconds, local hour
        (1, "101", "10", "7", 60, 9),
        (1, "101", "10", "5", None, 9),
        (2, "101", "10", "7", 120, 9),
        (3, "102", "10", "9", None, 11),
        (5, "102", "20", "7", 30, 11),
    ]
    for k, (i, agent, campaign, status, seconds, hour) in enumerate(calls):
        for event in ("call-was-connected", "call-history-was-created"):
            row = DialerCallEvent.objects.create(
                tenant=tenant,
                event=event,
                call_id=f"c{k}",
                telephony_id=f"t{k}",
                agent_id=agent,
                campaign_id=campaign,
                status=status if event.startswith("call-history") else "",
                client=clients[i],
                duration_seconds=seconds if event.startswith("call-history") else None,
            )
            DialerCallEvent.objects.filter(pk=row.pk).update(received_at=local(today, hour, k))
    # Before the exports and outside "today": counts in 7 days, not in today nor in the funnel.
    old = DialerCallEvent.objects.create(
        tenant=tenant,
        event="call-history-was-created",
        call_id="old",
        agent_id="101",
        campaign_id="10",
        status="7",
        client=clients[1],
        duration_seconds=10,
    )
    DialerCallEvent.objects.filter(pk=old.pk).update(received_at=local(today - datetime.timedelta(days=2), 10))
    kinds = {k.behavior: k for k in DispositionType.objects.filter(tenant=None)}
    for i, who, behavior, callback in (
        (1, "op1", "negociar", None),
        (1, "op1", "caixa_postal", None),
        (2, "op1", "retornar", local(today + datetime.timedelta(days=1), 10)),
        (3, "op2", "contato_incorreto", None),
        (5, "op2", "negociar", None),
    ):
        CallDisposition.objects.create(
            tenant=tenant, client=clients[i], operator=users[who], type=kinds[behavior], callback_at=callback
        )
    agreements = {}
    for i, who, status, reasons, total in (
        (1, "op1", Agreement.Status.ACTIVE, [], "300.00"),
        (2, "op1", Agreement.Status.ACTIVE, ["desconto acima do máximo"], "200.00"),
        (5, "op2", Agreement.Status.REJECTED, ["parcelas acima do máximo"], "100.00"),
        (3, "op2", Agreement.Status.PENDING_APPROVAL, ["entrada abaixo do mínimo"], "50.00"),
    ):
        agreements[i] = Agreement.objects.create(
            tenant=tenant,
            client=clients[i],
            creditor=clients[i].creditor,
            operator=users[who],
            status=status,
            approval_reasons=reasons,
            principal=D(total),
            total=D(total),
            installments_count=1,
            first_due_date=today,
        )
    # Recorded late in the morning, after the export and the calls, whatever the hour the test runs at (run just
    # after midnight, "now" came before the export's 08:00 and the funnel lost them).
    CallDisposition.objects.filter(tenant=tenant).update(created_at=local(today, 11, 30))
    Agreement.objects.filter(tenant=tenant).update(created_at=local(today, 11, 30))
    installment = AgreementInstallment.objects.create(
        agreement=agreements[1], number=1, due_date=today, amount=D("300.00")
    )
    Payment.objects.create(tenant=tenant, client=clients[1], installment=installment, paid_on=today, amount=D("100.00"))
    Payment.objects.create(
        tenant=tenant, client=clients[2], debt=clients[2].debts.get(), paid_on=today, amount=D("50.00")
    )
    return {"users": users, "creditors": (creditor_a, creditor_b), "clients": clients, "exports": (e1, e2)}
