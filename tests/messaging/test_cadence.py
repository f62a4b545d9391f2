"""The régua over 1,000 debtors: each due message exactly once across runs, none outside the debtor's legal hours,
never to an agreement, a "não ligar" or an opted-out channel; the preview counts the same."""

import datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time

from attendance.models import Agreement, Message
from core.models import Client, ClientPhone, Debt
from messaging import cadence
from messaging.models import OptOut, Send, Step
from tests.conftest import valid_cpf

# Monday 2026-03-09, 12:00 UTC: 09:00 in São Paulo (window open, 08:00-20:00), 07:00 in Acre (closed).
MORNING = datetime.datetime(2026, 3, 9, 12, 0, tzinfo=datetime.UTC)
LATER = datetime.datetime(2026, 3, 9, 14, 0, tzinfo=datetime.UTC)  # 09:00 in Acre
NIGHT = datetime.datetime(2026, 3, 9, 23, 30, tzinfo=datetime.UTC)  # 20:30 in São Paulo, 18:30 in Acre


def wallet(tenant, creditor, n=1000):
    due = datetime.date(2026, 3, 8)  # yesterday: the D+1 step
    clients = Client.objects.bulk_create(
        Client(
            tenant=tenant,
            creditor=creditor,
            name=f"Devedor {i}",
            cpf=valid_cpf(i + 1),
            external_id=f"R{i}",
            state="SP" if i % 2 == 0 else "AC",
        )
        for i in range(n)
    )
    ClientPhone.objects.bulk_create(
        ClientPhone(tenant=tenant, client=c, number=f"+55119{i:08d}", kind="celular", priority=1, whatsapp=True)
        for i, c in enumerate(clients)
    )
    Debt.objects.bulk_create(
        Debt(
            tenant=tenant,
            client=c,
            contract_code=f"K{i}",
            installment_number=1,
            installment_total=1,
            due_date=due,
            original_amount=Decimal("150.00"),
        )
        for i, c in enumerate(clients)
    )
    Client.objects.filter(tenant=tenant).refresh_summaries()
    return list(Client.objects.filter(tenant=tenant).order_by("pk"))


@pytest.mark.real_calling_hours
def test_a_thousand_debtors_each_due_message_once_and_only_in_legal_hours(tenant, creditor, operator):
    clients = wallet(tenant, creditor)
    Step.objects.create(
        tenant=tenant,
        creditor=creditor,
        name="D+1 WhatsApp",
        anchor=Step.Anchor.DEBT_DUE,
        offset_days=1,
        channel="whatsapp",
        template_name="cobranca_lembrete",
        text="{nome}\n{valor}",
        active=True,
    )
    in_agreement, do_not_call, opted_out = clients[0:10], clients[10:20], clients[20:30]
    for client in in_agreement:
        Agreement.objects.create(
            tenant=tenant,
            client=client,
            creditor=creditor,
            operator=operator,
            status=Agreement.Status.ACTIVE,
            principal=Decimal("150"),
            total=Decimal("150"),
            installments_count=1,
            first_due_date=datetime.date(2026, 3, 20),
        )
    Client.objects.filter(pk__in=[c.pk for c in do_not_call]).update(do_not_call_reason="pedido_devedor")
    for client in opted_out:
        OptOut.objects.create(tenant=tenant, client=client, channel="whatsapp", reason="PARAR")
    blocked = {c.pk for c in in_agreement + do_not_call + opted_out}
    due = {c.pk for c in clients} - blocked
    due_sp = {c.pk for c in clients if c.state == "SP"} - blocked

    with freeze_time(datetime.datetime(2026, 3, 8, 15, 0, tzinfo=datetime.UTC)):  # the day before: the preview
        [row] = cadence.preview(tenant)
    assert row["to_send"] == len(due) and dict(row["skipped"]) == {
        "não ligar": 10,
        "pediu para não receber neste canal": 10,
        "acordo ativo ou aguardando aprovação": 10,
    }

    with freeze_time(NIGHT - datetime.timedelta(hours=12)):  # 08:30 in São Paulo, 06:30 in Acre
        assert cadence.run(tenant) == {"whatsapp": len(due_sp)}
    with freeze_time(MORNING):
        assert cadence.run(tenant) == {}  # a re-run sends nothing twice; Acre still closed
    assert {s.client_id for s in Send.objects.all()} == due_sp
    with freeze_time(LATER):
        cadence.run(tenant)
        cadence.run(tenant)
    with freeze_time(NIGHT):
        assert cadence.run(tenant) == {}

    sends = list(Send.objects.values_list("client_id", flat=True))
    assert len(sends) == len(set(sends)) == len(due) and set(sends) == due
    messages = Message.objects.filter(direction="enviada", channel="whatsapp")
    assert messages.count() == len(due) and not messages.filter(client_id__in=blocked).exists()
    sample = messages.get(client=clients[30])
    assert sample.template == {"name": "cobranca_lembrete", "language": "pt_BR", "parameters": ["Devedor", "R$ 150,00"]}


@pytest.mark.real_calling_hours
def test_a_paused_step_sends_nothing_and_an_opt_out_stops_every_later_step(tenant, creditor):
    clients = wallet(tenant, creditor, n=4)
    first = Step.objects.create(
        tenant=tenant, creditor=creditor, name="D+1", offset_days=1, template_name="cobranca_lembrete", active=True
    )
    later = Step.objects.create(
        tenant=tenant, creditor=creditor, name="D+3", offset_days=3, template_name="cobranca_lembrete", active=True
    )
    first.paused = True
    first.save()
    with freeze_time(MORNING + datetime.timedelta(hours=3)):
        assert cadence.run(tenant) == {}
    OptOut.objects.create(tenant=tenant, client=clients[0], channel="whatsapp", reason="SAIR")
    with freeze_time(MORNING + datetime.timedelta(days=2, hours=3)):
        sent = cadence.run(tenant)
    assert sent == {"whatsapp": 3}
    assert not Send.objects.filter(client=clients[0]).exists() and Send.objects.filter(step=later).count() == 3


def test_the_daily_task_runs_again_later_the_same_day_only(tenant, creditor):
    from django_tasks_db.models import DBTaskResult

    from messaging.tasks import run_cadence

    with freeze_time(MORNING):
        run_cadence.call()
        [again] = DBTaskResult.objects.filter(task_path="messaging.tasks.run_cadence")
        assert again.run_after == MORNING + datetime.timedelta(minutes=30)
    DBTaskResult.objects.all().delete()
    with freeze_time(datetime.datetime(2026, 3, 10, 2, 50, tzinfo=datetime.UTC)):  # 23:50 in São Paulo
        run_cadence.call()
    assert not DBTaskResult.objects.exists()
