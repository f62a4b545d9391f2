"""A month of work in the demo's tenant, so every screen shows something on the first run: agreements in each
situation (active, awaiting approval, rejected, paid off), payments, clients paid off and "não ligar", and the
operator's calls and tabulações over the last 30 days.

Made through the same services the screens use (agreements within or beyond the creditor's rules, the baixa,
"não ligar"), then dated back over the month. Deterministic (one seeded generator, clients in id order) and done
once per tenant: a tenant that already has agreements is left as it is.
"""

import datetime
import random
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from attendance import payments
from attendance import services as attendance
from attendance.models import Agreement, CallDisposition, DispositionType, Payment
from attendance.negotiation import Proposal
from core import services as core_services
from core.models import Client, DoNotCallReason
from dialer.models import DialerCallEvent
from dialer.types import DispositionBehavior
from sandbox.fake import SAO_PAULO
from tenants.models import Role

DAYS = 30
CALLS = 150
# call history statuses as 3C Plus reports them: 7 answered by an agent, the rest not answered.
CALL_STATUSES = ["7"] * 6 + ["2", "3", "4"]
TABULATIONS = [
    DispositionBehavior.VOICEMAIL,
    DispositionBehavior.VOICEMAIL,
    DispositionBehavior.INTERRUPTED,
    DispositionBehavior.NEGOTIATE,
    DispositionBehavior.CALLBACK,
    DispositionBehavior.INTERRUPTED,
]


def seed_activity(tenant, users: dict, *, seed: int = 2026) -> bool:
    """Fill the tenant's month; False when it already has agreements (an earlier run did it)."""
    if Agreement.objects.filter(tenant=tenant).exists():
        return False
    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate()
    operator, supervisor = users[Role.OPERATOR], users[Role.SUPERVISOR]
    pool = list(Client.objects.filter(tenant=tenant, status=Client.Status.OPEN).order_by("pk"))
    rng.shuffle(pool)

    def take(count):
        return [pool.pop() for _ in range(min(count, len(pool)))]

    def days_ago(low=1, high=DAYS):
        return now - datetime.timedelta(days=rng.randint(low, high), minutes=rng.randint(0, 600))

    def agree(client, proposal, *, when, justification=""):
        try:
            # No call id: these calls never happened in the sandbox, and a tabulação with one is written back to it
            # (the demo's worker would spend its first minutes posting qualifications the sandbox cannot place).
            agreement = attendance.create_agreement(
                tenant,
                operator,
                client,
                proposal,
                notes="Acordo da demonstração",
                justification=justification,
            )
        except ValidationError:  # this client's títulos do not fit the proposal: another one will
            return None
        Agreement.objects.filter(pk=agreement.pk).update(created_at=when)
        return agreement

    def within_rules(days_to_first, installments=3):
        return Proposal(
            installments=installments,
            first_due_date=today + datetime.timedelta(days=days_to_first),
            fill_minimum_entry=True,
        )

    beyond_rules = Proposal(discount_percent=Decimal("70"), installments=24, first_due_date=today)

    # Active agreements, some with the entry already paid.
    for n, client in enumerate(take(8)):
        agreement = agree(client, within_rules(rng.randint(0, 10)), when=days_ago(3, 20))
        if agreement is not None and n % 2 == 0:
            _pay(tenant, operator, agreement.installments.order_by("number").first(), today, rng)
    # Awaiting a supervisor, and rejected by one.
    # Beyond the creditor's rules the operator says why (the supervisor decides with it).
    reason = "Cliente desempregado; só consegue pagar com desconto maior e prazo longo."
    for client in take(4):
        agree(client, beyond_rules, when=days_ago(0, 3), justification=reason)
    for client in take(3):
        agreement = agree(client, beyond_rules, when=days_ago(5, 25), justification=reason)
        if agreement is not None and agreement.status == Agreement.Status.PENDING_APPROVAL:
            attendance.reject_agreement(tenant, supervisor, agreement, note="Desconto acima do permitido pelo credor.")
    # Paid off through an agreement (à vista), and paid off directly.
    for client in take(3):
        agreement = agree(client, within_rules(0, installments=1), when=days_ago(10, 28))
        if agreement is not None:
            for installment in agreement.installments.order_by("number"):
                _pay(tenant, supervisor, installment, today, rng)
    for client in take(3):
        for debt in attendance.open_debts(client):
            payments.post_payment(
                tenant,
                supervisor,
                payments.PaymentInput(
                    amount=debt.open_amount,
                    paid_on=today - datetime.timedelta(days=rng.randint(1, 20)),
                    method=Payment.Method.BOLETO,
                    submission_token=uuid.uuid4(),
                ),
                debt=debt,
            )
    # "Não ligar": whole clients, and single numbers.
    reasons = [DoNotCallReason.DEBTOR_REQUEST, DoNotCallReason.LAWYER, DoNotCallReason.LGPD]
    for client, reason in zip(take(3), reasons, strict=False):
        core_services.set_do_not_call(client, reason, supervisor)
    for client in take(3):
        phone = client.phones.filter(active=True).order_by("pk").first()
        if phone is not None:
            core_services.set_phone_do_not_call(phone, DoNotCallReason.WRONG_NUMBER, operator)
    _calls(tenant, operator, take(60) or list(Client.objects.filter(tenant=tenant)[:60]), rng, now)
    return True


def _pay(tenant, user, installment, today, rng):
    if installment is None:
        return
    payments.post_payment(
        tenant,
        user,
        payments.PaymentInput(
            amount=installment.amount,
            paid_on=max(
                today - datetime.timedelta(days=rng.randint(0, 5)),
                # In Brasília's calendar, as `today` and the payment rules: created_at.date() is UTC's, tomorrow there
                # from 21:00 on, and the demo then posted a payment dated in the future (refused).
                min(today, timezone.localdate(installment.agreement.created_at)),
            ),
            method=Payment.Method.PIX,
            submission_token=uuid.uuid4(),
        ),
        installment=installment,
    )


def _calls(tenant, operator, clients, rng, now):
    """The operator's calls of the month (3C Plus call histories) and a tabulação for each answered one;
    a few callbacks still to do, today's among them."""
    agent_id = operator.membership.threecplus_agent_id or "1001"
    kinds = {kind.behavior: kind for kind in DispositionType.available_to(tenant)}
    events, dispositions, event_times, disposition_times = [], [], [], []
    for n in range(CALLS):
        client = clients[n % len(clients)]
        at = now - datetime.timedelta(days=rng.randint(0, DAYS - 1), minutes=rng.randint(0, 9 * 60))
        status = rng.choice(CALL_STATUSES)
        call_id = f"demo:{tenant.slug}:{n}"
        phone = client.main_phone
        events.append(
            DialerCallEvent(
                tenant=tenant,
                event=DialerCallEvent.Event.HISTORY,
                call_id=call_id,
                call_mode="dialer",
                identifier=str(client.pk),
                agent_id=agent_id if status == "7" else "",
                agent_name=operator.get_full_name(),
                phone=phone,
                status=status,
                duration_seconds=rng.randint(40, 420) if status == "7" else 0,
                client=client,
                raw={"demo": True, "call_date": at.astimezone(SAO_PAULO).strftime("%Y-%m-%d %H:%M:%S")},
            )
        )
        event_times.append(at)
        if status != "7":
            continue
        behavior = rng.choice(TABULATIONS)
        callback_at = None
        if behavior == DispositionBehavior.CALLBACK:
            callback_at = now + datetime.timedelta(hours=rng.choice([1, 3, 26, 50]))
        dispositions.append(
            CallDisposition(
                tenant=tenant,
                client=client,
                operator=operator,
                type=kinds[behavior],
                notes="" if behavior != DispositionBehavior.NEGOTIATE else "Cliente pediu proposta parcelada.",
                call_id=call_id,
                callback_at=callback_at,
                submission_token=uuid.uuid4(),
            )
        )
        disposition_times.append(at)
    # auto_now_add stamps "now" on insert: each one is dated back to when its call happened.
    for event, at in zip(DialerCallEvent.objects.bulk_create(events), event_times, strict=True):
        DialerCallEvent.objects.filter(pk=event.pk).update(received_at=at)
    for disposition, at in zip(CallDisposition.objects.bulk_create(dispositions), disposition_times, strict=True):
        CallDisposition.objects.filter(pk=disposition.pk).update(created_at=at)
