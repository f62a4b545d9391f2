"""The régua: which clients each step of a creditor's cadence reaches on a day, why the others are skipped, and the
run that queues what is due.

One classification for the preview and the run (like dialer.eligibility): every candidate of a step gets a reason,
from one SQL expression, so the preview counts groups without loading rows and the run reads only the ones to send.
Each send is keyed by (step, client, day): a second run of the same day finds the key and sends nothing again.
Legal hours: the debtor's window for the step's channel (dialer.eligibility: the state's law where it names SMS or
WhatsApp, else the national baseline; the agency's hours; national, state and municipal holidays).
"""

import datetime
import logging
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from attendance.models import Agreement, AgreementInstallment, Message
from core.models import Client, ClientStatus, Debt
from dialer.eligibility import NORONHA, UF_TIME_ZONES, UNKNOWN_UF, CallingPolicy, _region_q, closed_now
from messaging import services
from messaging.models import OptOut, Send, Step

logger = logging.getLogger(__name__)

SEND = "enviar"
CHUNK = 1000  # clients read per query by the run (bounded IN lists)
REASONS = {
    "quitado": _("quitado ou sem saldo"),
    "nao_ligar": _("não ligar"),
    "bloqueado": _("pediu para não receber neste canal"),
    "acordo": _("acordo ativo ou aguardando aprovação"),
    "sem_contato": _("sem celular ou e-mail"),
    "ja_enviado": _("já enviado hoje por este passo"),
    "contatado_hoje": _("já contatado hoje neste canal"),
    "fora_do_horario": _("fora do horário no estado do devedor"),
}
REGIONS = [*UF_TIME_ZONES, NORONHA, UNKNOWN_UF]


def candidates(step: Step, day: datetime.date):
    """The clients the step's anchor points at on `day`, with its conditions applied."""
    anchor_day = day - datetime.timedelta(days=step.offset_days)
    clients = Client.objects.filter(tenant_id=step.tenant_id, creditor_id=step.creditor_id)
    if step.anchor == Step.Anchor.DEBT_DUE:
        clients = clients.filter(
            Exists(Debt.objects.filter(client=OuterRef("pk"), status=Debt.Status.OPEN, due_date=anchor_day))
        )
    elif step.anchor == Step.Anchor.INSTALLMENT_DUE:
        clients = clients.filter(
            Exists(
                AgreementInstallment.objects.filter(
                    agreement__client=OuterRef("pk"),
                    agreement__status=Agreement.Status.ACTIVE,
                    status=AgreementInstallment.Status.OPEN,
                    due_date=anchor_day,
                )
            )
        )
    else:
        clients = clients.filter(
            Exists(
                Agreement.objects.filter(
                    client=OuterRef("pk"), status=Agreement.Status.BROKEN, closed_at__date=anchor_day
                )
            )
        )
    statuses = step.statuses or [str(s) for s in Step.DEFAULT_STATUSES]
    if step.anchor != Step.Anchor.INSTALLMENT_DUE:  # a client in an agreement is "em acordo"; its reminders go
        clients = clients.filter(Q(status__in=statuses) | Q(status=ClientStatus.PAID))
    if step.min_balance is not None:
        clients = clients.filter(open_balance__gte=step.min_balance)
    if step.max_balance is not None:
        clients = clients.filter(open_balance__lte=step.max_balance)
    if step.min_days_overdue is not None:
        clients = clients.filter(oldest_due_date__lte=day - datetime.timedelta(days=step.min_days_overdue))
    if step.max_days_overdue is not None:
        clients = clients.filter(oldest_due_date__gte=day - datetime.timedelta(days=step.max_days_overdue))
    return clients


def closed_regions_q(policy: CallingPolicy, now: datetime.datetime | None, day: datetime.date, channel: str) -> Q:
    """The clients outside their legal hours for this channel: at `now` (the run: their state's law for the channel,
    the agency's hours, national, state and municipal holidays), or with no window at all on `day` (the preview of
    tomorrow, by state). E-mail, which no state law names, follows the national baseline."""
    if now is not None:
        return closed_now(policy, now, channel=channel)
    q = Q(pk__in=[])
    for region in REGIONS:
        if not policy.window(region, day, channel=channel):
            q |= _region_q(region)
    return q


def classify(step: Step, day: datetime.date, now: datetime.datetime | None = None):
    """The step's candidates annotated with `reason` (SEND or a key of REASONS), first matching reason wins."""
    tenant = step.tenant
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
    end = start + datetime.timedelta(days=1)
    contacted = Message.objects.filter(
        client=OuterRef("pk"),
        channel=step.channel,
        direction=Message.Direction.OUTBOUND,
        sent_at__gte=start,
        sent_at__lt=end,
    )
    other_sends = Send.objects.filter(client=OuterRef("pk"), channel=step.channel, day=day).exclude(step=step)
    if step.channel == Message.Channel.EMAIL:
        no_contact = Q(email="")
    else:
        no_contact = Q(main_phone="")
    rules = [
        When(Q(status=ClientStatus.PAID) | Q(open_balance__lte=0), then=Value("quitado")),
        When(~Q(do_not_call_reason=""), then=Value("nao_ligar")),
        When(Exists(OptOut.objects.filter(client=OuterRef("pk"), channel=step.channel)), then=Value("bloqueado")),
    ]
    if step.kind == Step.Kind.OVERDUE:
        rules.append(
            When(
                Exists(Agreement.objects.filter(client=OuterRef("pk"), status__in=Agreement.OPEN_STATUSES)),
                then=Value("acordo"),
            )
        )
    rules += [
        When(no_contact, then=Value("sem_contato")),
        When(Exists(Send.objects.filter(client=OuterRef("pk"), step=step, day=day)), then=Value("ja_enviado")),
        When(Exists(contacted) | Exists(other_sends), then=Value("contatado_hoje")),
        When(closed_regions_q(CallingPolicy.for_tenant(tenant), now, day, step.channel), then=Value("fora_do_horario")),
    ]
    return candidates(step, day).annotate(reason=Case(*rules, default=Value(SEND), output_field=CharField()))


def preview(tenant, day: datetime.date | None = None) -> list[dict]:
    """Per step (active or not, paused or not): how many would go on `day` (tomorrow by default) and why the others
    would not — one grouped query per step, no rows loaded."""
    day = day or timezone.localdate() + datetime.timedelta(days=1)
    result = []
    for step in Step.objects.filter(tenant=tenant).select_related("creditor", "tenant"):
        counts = dict(classify(step, day).values_list("reason").annotate(n=Count("pk")).values_list("reason", "n"))
        result.append(
            {
                "step": step,
                "channel": step.get_channel_display(),
                "to_send": counts.pop(SEND, 0),
                "skipped": [(str(REASONS[k]), counts[k]) for k in REASONS if counts.get(k)],
                "selected": sum(counts.values()),
            }
        )
    for row in result:
        row["selected"] += row["to_send"]
    return result


def run(tenant, now: datetime.datetime | None = None) -> dict:
    """Queue today's due messages of the tenant's running steps, inside the debtors' legal hours now. Re-running
    (later the same day, or twice at once) sends nothing twice: each send claims its (step, client, day) first."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    totals = defaultdict(int)
    steps = list(Step.objects.filter(tenant=tenant, active=True, paused=False).select_related("tenant", "creditor"))
    templates = whatsapp_templates(tenant) if any(s.channel == Message.Channel.WHATSAPP for s in steps) else {}
    for step in steps:
        ids = list(classify(step, day, now).filter(reason=SEND).values_list("pk", flat=True))
        for start in range(0, len(ids), CHUNK):
            for client in Client.objects.filter(pk__in=ids[start : start + CHUNK]).select_related("tenant"):
                if send_one(step, client, day, now, templates):
                    totals[step.channel] += 1
    return dict(totals)


def whatsapp_templates(tenant) -> dict:
    """{(name, language): body} of the approved templates, read once per run before any transaction; empty when
    WhatsApp cannot be read now (the messages still go: Meta checks the template when it receives them)."""
    from messaging.errors import MessagingError

    try:
        with services.whatsapp_api(tenant) as api:
            return {(t.name, t.language): t.body for t in api.approved_templates()}
    except MessagingError as error:
        logger.info("Modelos do WhatsApp da empresa %s indisponíveis: %s", tenant.pk, error.message)
        return {}


def send_one(step: Step, client, day, now, templates=None) -> bool:
    try:
        with transaction.atomic():
            send = Send.objects.create(
                tenant_id=step.tenant_id, step=step, client=client, day=day, channel=step.channel
            )
            message = build_message(step, client, now, templates or {})
            if message is None:
                return False
            message.save()
            send.message = message
            send.save(update_fields=["message"])
            transaction.on_commit(lambda: enqueue(message.pk))
    except IntegrityError:
        return False  # another run claimed it
    return True


def enqueue(message_id: int) -> None:
    from messaging import tasks

    tasks.deliver.enqueue(message_id)


def build_message(step: Step, client, now, templates: dict) -> Message | None:
    values = services.variables_for(client)
    common = {
        "tenant_id": client.tenant_id,
        "client": client,
        "channel": step.channel,
        "direction": Message.Direction.OUTBOUND,
        "sent_at": now,
        "status": Message.Status.QUEUED,
    }
    if step.channel == Message.Channel.WHATSAPP:
        phone = services.whatsapp_phone(client)
        if not phone:
            return None
        parameters = services.template_parameters(step.text, client)
        body = templates.get((step.template_name, step.template_language))
        if body:
            for index, value in enumerate(parameters, 1):
                body = body.replace("{{" + str(index) + "}}", value)
        return Message(
            **common,
            phone=phone,
            body=body or f"[{step.template_name}] " + " · ".join(parameters),
            template={"name": step.template_name, "language": step.template_language, "parameters": parameters},
        )
    if step.channel == Message.Channel.EMAIL:
        return Message(**common, phone=client.email, body=services.fill(step.text, values)[:4096])
    phone = client.main_phone
    return Message(**common, phone=phone, body=services.fill(step.text, values)[:640]) if phone else None


def run_all(now=None) -> int:
    from tenants.models import Tenant

    total = 0
    for tenant in Tenant.objects.filter(active=True, pk__in=Step.objects.filter(active=True).values("tenant_id")):
        total += sum(run(tenant, now).values())
    return total
