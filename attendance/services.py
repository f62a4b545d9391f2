"""Workflows of the atendimento: each takes the tenant and the user explicitly."""

import datetime
import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance.models import Agreement, AgreementInstallment, CallDisposition, ClientAccessLog, DispositionType
from attendance.negotiation import OpenDebt, Proposal, Rules, Simulation, simulate
from common.parsing import clean_text
from core import services as core_services
from core import task_leases
from core.models import Client, ClientPhone, Debt, DoNotCallReason
from dialer.errors import DialerError
from dialer.qualifications import qualify_call, writes_qualifications
from dialer.same_call import same_call_ids
from tenants import audit
from tenants.models import Membership
from tenants.roles import is_back_office

Behavior = DispositionType.Behavior
QualificationStatus = CallDisposition.QualificationStatus
logger = logging.getLogger(__name__)
# Callbacks further out are typos (9999-12-31), and a date near the calendar's end breaks every page showing it.
CALLBACK_WINDOW = datetime.timedelta(days=365)
# Longer than the slowest write-back (the dialer client's timeouts and retries, a first catalogue sync): a claim
# older than this was left by a worker that died mid-post, and the write-back may be sent again.
QUALIFICATION_LEASE = datetime.timedelta(minutes=5)


CONSOLE_SEEN_EVERY_SECONDS = 3


def note_console_poll(membership) -> None:
    """The console polls every second; the live panel needs to know it within 10 s, so write at most every 3 s."""
    if cache.add(f"console-seen:{membership.pk}", True, timeout=CONSOLE_SEEN_EVERY_SECONDS):
        Membership.objects.filter(pk=membership.pk).update(console_seen_at=timezone.now())


def log_access(tenant, user, client, call_id: str = "", kind=ClientAccessLog.Kind.PAGE) -> None:
    ClientAccessLog.objects.create(tenant=tenant, user=user, client=client, call_id=call_id[:120], kind=kind)


def record_disposition(
    tenant,
    user,
    client,
    disposition_type,
    *,
    notes="",
    phone=None,
    call_id="",
    callback_at=None,
    token=None,
    one_per_call=True,
) -> tuple[CallDisposition, bool]:
    """Record a tabulação; (disposition, created). The same submission token never records twice.

    One tabulação per call: a second one for a call already tabulated is refused (change the first instead,
    change_disposition). What the system records on its own during the call (the agreement's "Negociar", a number
    marked wrong) passes one_per_call=False: those are facts, not the operator's verdict on the call."""
    if client.tenant_id != tenant.pk:
        raise PermissionDenied
    if disposition_type.tenant_id not in (None, tenant.pk):
        raise ValidationError(_("Tabulação inválida."))
    if token is not None:
        existing = CallDisposition.objects.filter(tenant=tenant, submission_token=token).first()
        if existing:
            return existing, False
    behavior = disposition_type.behavior
    callback_at = _checked_details(behavior, client.pk, phone, callback_at)

    fields = {
        "tenant": tenant,
        "client": client,
        "operator": user,
        "type": disposition_type,
        "notes": notes.strip(),
        "phone": phone,
        "call_id": (call_id or "")[:120],
        "callback_at": callback_at,
    }
    if token is not None:
        fields["submission_token"] = token
    if fields["call_id"] and writes_qualifications(tenant):
        fields["qualification_status"] = QualificationStatus.PENDING
    try:
        with transaction.atomic():
            # One writer per client at a time: concurrent clicks wait here and then see what the first did.
            list(Client.objects.select_for_update().filter(pk=client.pk).values_list("pk", flat=True))
            if one_per_call and fields["call_id"] and call_disposition(tenant, client, fields["call_id"]):
                raise ValidationError(
                    _("Esta ligação já foi tabulada; altere a tabulação registrada."), code="already_tabulated"
                )
            if behavior == Behavior.WRONG_CONTACT and not ClientPhone.objects.filter(pk=phone.pk, active=True).exists():
                earlier = (
                    CallDisposition.objects.filter(
                        tenant=tenant, client=client, phone=phone, type__behavior=Behavior.WRONG_CONTACT
                    )
                    .order_by("-created_at", "-pk")
                    .first()
                )
                if earlier:
                    return earlier, False  # already marked wrong: once is enough
            if fields.get("qualification_status") == QualificationStatus.PENDING and (
                # A call is one client's: the (client, call_id) index finds its dispositions.
                CallDisposition.objects.filter(tenant=tenant, client=client, call_id=fields["call_id"])
                .exclude(qualification_status=QualificationStatus.NOT_APPLICABLE)
                .exists()
            ):
                # 3C Plus takes one qualification per call: the call's first tabulação is the one sent.
                fields["qualification_status"] = QualificationStatus.NOT_APPLICABLE
            disposition = CallDisposition.objects.create(**fields)
            if behavior == Behavior.WRONG_CONTACT:
                # Who and when are kept, it is audited, and the dialer drops the number from its lists.
                core_services.set_phone_do_not_call(phone, DoNotCallReason.WRONG_NUMBER, user)
            if disposition.qualification_status == QualificationStatus.PENDING:
                transaction.on_commit(lambda: enqueue_qualification(disposition))
    except IntegrityError:
        # A concurrent double submit won the race: return its record.
        return CallDisposition.objects.get(tenant=tenant, submission_token=token), False
    # A new tabulation of the client closes the operator's earlier pending callbacks for it.
    CallDisposition.objects.filter(
        tenant=tenant, client=client, operator=user, callback_done=False, callback_at__isnull=False
    ).exclude(pk=disposition.pk).update(callback_done=True)
    return disposition, True


def call_disposition(tenant, client, call_id: str) -> CallDisposition | None:
    """The tabulação already recorded for this call, if any: the first one, the one 3C Plus got as the call's
    qualification. What "the same call" means (3C Plus names a call by three ids) is decided here only."""
    if not call_id:
        return None
    # 3C Plus names one call by its connected id, its history id and its report id: a tabulação under any of them
    # is this call's. Within the tenant; the client narrows it to the (client, call_id) index (a call is one client's).
    same_call = same_call_ids(tenant, call_id[:120]) or [call_id[:120]]
    return (
        CallDisposition.objects.filter(tenant=tenant, client=client, call_id__in=same_call)
        .exclude(type__behavior=Behavior.NEGOTIATE)
        .select_related("type")
        .order_by("created_at", "pk")
        .first()
    )


def change_disposition(
    tenant, user, disposition: CallDisposition, disposition_type, *, notes="", phone=None, callback_at=None
) -> CallDisposition:
    """Alterar: the call's tabulação becomes another one, audited and marked on the timeline.

    Nothing more is sent to 3C Plus: it takes one qualification per call, so one already sent stays as it was
    there; one still pending is sent as changed (the task reads the row when it sends)."""
    if disposition.tenant_id != tenant.pk:
        raise PermissionDenied
    if disposition_type.tenant_id not in (None, tenant.pk) or disposition_type.behavior == Behavior.NEGOTIATE:
        raise ValidationError(_("Tabulação inválida."))
    behavior = disposition_type.behavior
    callback_at = _checked_details(behavior, disposition.client_id, phone, callback_at)
    with transaction.atomic():
        disposition = CallDisposition.objects.select_for_update().select_related("type").get(pk=disposition.pk)
        before = {"tabulação": disposition.type.name, "observações": disposition.notes}
        disposition.changed_from = disposition.type.name[:100]
        disposition.changed_at = timezone.now()
        disposition.type = disposition_type
        disposition.notes = notes.strip()
        disposition.phone = phone
        disposition.callback_at = callback_at
        disposition.callback_done = False
        disposition.save(
            update_fields=["type", "notes", "phone", "callback_at", "callback_done", "changed_from", "changed_at"]
        )
        after = {"tabulação": disposition_type.name, "observações": disposition.notes}
        audit.record(
            tenant,
            user,
            audit.Action.DISPOSITION_CHANGED,
            disposition,
            changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
        )
        if behavior == Behavior.WRONG_CONTACT:
            core_services.set_phone_do_not_call(phone, DoNotCallReason.WRONG_NUMBER, user)
    return disposition


def _checked_details(behavior, client_id, phone, callback_at):
    """What a tabulação of this behaviour needs, checked: the client's own phone (the wrong one, for "contato
    incorreto") and a return date (for "retornar"; dropped for any other). Returns the return date to keep."""
    if phone is not None and phone.client_id != client_id:
        raise ValidationError(_("Telefone de outro cliente."))
    if behavior == Behavior.WRONG_CONTACT and phone is None:
        raise ValidationError({"phone": _("Informe qual telefone está incorreto.")})
    if behavior != Behavior.CALLBACK:
        return None
    _check_callback(callback_at)
    return callback_at


def _check_callback(callback_at) -> None:
    if callback_at is None:
        raise ValidationError({"callback_at": _("Informe a data e a hora do retorno.")})
    if callback_at <= timezone.now():
        raise ValidationError({"callback_at": _("O retorno deve ser numa data e hora futuras.")})
    if callback_at > timezone.now() + CALLBACK_WINDOW:
        raise ValidationError(
            {"callback_at": _("O retorno deve estar nos próximos %(days)s dias.") % {"days": CALLBACK_WINDOW.days}}
        )


def enqueue_qualification(disposition: CallDisposition) -> None:
    """Queue the write-back; the operator's save has already happened and never waits for 3C Plus."""
    from attendance.tasks import send_qualification

    try:
        send_qualification.enqueue(disposition.pk)
    except Exception as error:  # the queue is a table: if even that fails, say so on the disposition
        logger.exception("Não foi possível enfileirar a qualificação da tabulação %s", disposition.pk)
        CallDisposition.objects.filter(pk=disposition.pk).update(
            qualification_status=QualificationStatus.FAILED,
            qualification_error=_("Não foi possível agendar o envio: %(e)s") % {"e": type(error).__name__},
        )


def send_qualification(disposition_id: int) -> CallDisposition:
    """The task's work: post the tabulação to 3C Plus as the call's qualification, and record how it went.

    The write-back is claimed first (a conditional UPDATE that only one run wins), then posted with no
    transaction open, then its result recorded: the same write-back queued twice (a retry clicked twice, two
    workers) posts once, and nobody's save waits on 3C Plus (on SQLite a transaction open across the POST
    locked the whole database for as long as the dialer took to answer).
    """
    now = timezone.now()
    claimed = CallDisposition.objects.filter(
        Q(qualification_claimed_at__isnull=True) | Q(qualification_claimed_at__lt=now - QUALIFICATION_LEASE),
        pk=disposition_id,
        qualification_status=QualificationStatus.PENDING,
    ).update(qualification_claimed_at=now)
    disposition = CallDisposition.objects.select_related(
        "tenant", "type", "operator__membership", "phone", "client"
    ).get(pk=disposition_id)
    if claimed:
        _post_qualification(disposition)
    # Otherwise it was already sent, a retry is not wanted any more, or another run is posting it.
    return disposition


def _post_qualification(disposition: CallDisposition) -> None:
    membership = getattr(disposition.operator, "membership", None)
    phone = disposition.phone.number if disposition.phone_id else disposition.client.main_phone
    disposition.qualification_attempts += 1
    try:
        qualify_call(
            disposition.tenant,
            call_id=disposition.call_id,
            behavior=disposition.type.behavior,
            agent_id=membership.threecplus_agent_id if membership else "",
            note=disposition.notes,
            callback_at=disposition.callback_at,
            phone=phone,
        )
    except DialerError as error:
        disposition.qualification_status = QualificationStatus.FAILED
        disposition.qualification_error = error.message
    except Exception:  # a bug must not leave the tabulação "sending" forever: show it, keep the traceback
        logger.exception("Qualificação da tabulação %s falhou de forma inesperada", disposition.pk)
        disposition.qualification_status = QualificationStatus.FAILED
        disposition.qualification_error = _("Erro inesperado ao enviar; a equipe técnica foi avisada pelo log.")
    else:
        disposition.qualification_status = QualificationStatus.SENT
        disposition.qualification_error = ""
        disposition.qualification_sent_at = timezone.now()
    disposition.qualification_claimed_at = None
    disposition.save(
        update_fields=[
            "qualification_status",
            "qualification_error",
            "qualification_attempts",
            "qualification_sent_at",
            "qualification_claimed_at",
        ]
    )


def retry_qualifications(tenant, dispositions) -> int:
    """Queue again (from the admin) the failed write-backs and the pending ones with no task to send them;
    returns how many."""
    from attendance.tasks import send_qualification

    chosen = dispositions.filter(tenant=tenant)
    failed = set(chosen.filter(qualification_status=QualificationStatus.FAILED).values_list("pk", flat=True))
    pending = set(chosen.filter(qualification_status=QualificationStatus.PENDING).values_list("pk", flat=True))
    ids = failed | (pending - task_leases.queued_ids(send_qualification))
    CallDisposition.objects.filter(pk__in=ids).update(qualification_status=QualificationStatus.PENDING)
    for disposition in CallDisposition.objects.filter(pk__in=ids):
        transaction.on_commit(lambda d=disposition: enqueue_qualification(d))
    return len(ids)


def lost_qualifications(older_than_seconds: int):
    """Write-backs pending for longer than that with no task queued or running for them."""
    from attendance.tasks import send_qualification

    now = timezone.now()
    since = now - datetime.timedelta(seconds=older_than_seconds)
    return (
        CallDisposition.objects.filter(qualification_status=QualificationStatus.PENDING, created_at__lt=since)
        .exclude(pk__in=task_leases.queued_ids(send_qualification))
        .exclude(qualification_claimed_at__gte=now - QUALIFICATION_LEASE)  # being posted right now
    )


def sweep_qualifications() -> list[int]:
    """Queue again the write-backs left pending with no task: their enqueue was lost (the database went away
    right after the commit) or their task failed on an outage (run by every worker at each heartbeat; one whose
    worker died mid-post comes back through core.task_leases)."""
    from attendance.tasks import send_qualification

    with transaction.atomic():
        # Several workers sweep: the row locks (skipped when taken) give each write-back to one of them.
        ids = list(
            lost_qualifications(settings.WORKER_STALE_SECONDS)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:500]
        )
        for disposition_id in ids:
            send_qualification.enqueue(disposition_id)
    return ids


def record_dialer_qualification(tenant, client, behavior, *, call_id, operator, note="", at=None):
    """A call qualified inside 3C Plus (its history, from the webhook or the reconciliation) becomes the client's
    tabulação, once per call whichever of the call's ids a tabulação already has (the page's is the connected
    event's); it is not written back (it came from there). Without a known operator there is no one to record it
    for: the dialer attributes it to the call's agent, else the client's operator."""
    if operator is None:
        logger.info("Qualificação da ligação %s sem operador vinculado ao agente: não tabulada", call_id)
        return None
    call_id = call_id[:120]
    with transaction.atomic():
        # The page's tabulação of the same call takes this lock too (record_disposition): one of them wins.
        list(Client.objects.select_for_update().filter(pk=client.pk).values_list("pk", flat=True))
        same_call = same_call_ids(tenant, call_id) or [call_id]
        if CallDisposition.objects.filter(tenant=tenant, client=client, call_id__in=same_call).exists():
            return None
        disposition = CallDisposition.objects.create(
            tenant=tenant,
            client=client,
            operator=operator,
            type=disposition_type(tenant, behavior),
            notes=(note or _("Qualificada no 3C Plus")).strip(),
            call_id=same_call[0][:120],
        )
        if at is not None:
            CallDisposition.objects.filter(pk=disposition.pk).update(created_at=at)
    return disposition


# 3C Plus keeps the date an agent schedules inside it to itself (GET /calls does not carry it): the operator is
# reminded a day after the call.
DIALER_CALLBACK_DELAY = datetime.timedelta(days=1)


def schedule_dialer_callback(tenant, client, *, call_id, at=None):
    """A call qualified "retornar" inside 3C Plus: the call's tabulação is a callback, a day after the call and never
    in the past. One tabulação per call: one the operator made otherwise (or with a date) is left as it is."""
    call_id = call_id[:120]
    now = timezone.now()
    callback_at = max(at or now, now) + DIALER_CALLBACK_DELAY
    with transaction.atomic():
        dispositions = list(
            CallDisposition.objects.select_for_update()
            .filter(tenant=tenant, client=client, call_id=call_id)
            .select_related("type")
            .order_by("-created_at", "-pk")
        )
        if any(d.callback_at or d.type.behavior != Behavior.CALLBACK for d in dispositions):
            return None
        if dispositions:  # recorded "Retornar" from the qualification's mapping just before, without a date
            disposition = dispositions[0]
            CallDisposition.objects.filter(pk=disposition.pk).update(callback_at=callback_at)
            return disposition
        operator = client.assigned_operator
        if operator is None:
            logger.info("Retorno pedido no 3C Plus para a ligação %s sem operador: não agendado", call_id)
            return None
        return CallDisposition.objects.create(
            tenant=tenant,
            client=client,
            operator=operator,
            type=disposition_type(tenant, Behavior.CALLBACK),
            notes=_("Retorno pedido no 3C Plus"),
            call_id=call_id,
            callback_at=callback_at,
        )


def disposition_type(tenant, behavior) -> DispositionType:
    return DispositionType.available_to(tenant).filter(behavior=behavior).order_by("tenant_id").first()


def open_debts(client) -> list[Debt]:
    return list(client.debts.filter(status=Debt.Status.OPEN).order_by("due_date"))


def simulate_for(client, proposal: Proposal, debts: list[Debt] | None = None) -> Simulation:
    debts = open_debts(client) if debts is None else debts
    return simulate(
        [OpenDebt(d.open_amount, d.due_date) for d in debts],
        Rules.from_creditor(client.creditor),
        proposal,
        timezone.localdate(),
    )


def create_agreement(
    tenant, user, client, proposal: Proposal, *, call_id="", token=None, notes="", justification=""
) -> Agreement:
    """Gerar acordo: active within the creditor's limits, awaiting approval beyond them, with the operator's
    justification (required then: the supervisor decides on it)."""
    justification = clean_text(justification, 2000).strip()
    if client.tenant_id != tenant.pk:
        raise PermissionDenied
    if token is not None:
        existing = Agreement.objects.filter(tenant=tenant, submission_token=token).first()
        if existing:
            return existing
    with transaction.atomic():
        client = Client.objects.select_for_update().select_related("creditor").get(pk=client.pk)
        if Agreement.objects.filter(client=client, status__in=Agreement.OPEN_STATUSES).exists():
            raise ValidationError(_("O cliente já tem um acordo ativo ou aguardando aprovação."))
        debts = open_debts(client)
        simulation = simulate_for(client, proposal, debts)
        status = Agreement.Status.ACTIVE if simulation.within_limits else Agreement.Status.PENDING_APPROVAL
        if status == Agreement.Status.PENDING_APPROVAL and not justification:
            raise ValidationError(
                {
                    "justification": _(
                        "A proposta está fora das regras do credor: escreva a justificativa para o supervisor "
                        "decidir (por que o cliente só consegue pagar assim)."
                    )
                }
            )
        agreement = Agreement.objects.create(
            tenant=tenant,
            client=client,
            creditor=client.creditor,
            operator=user,
            status=status,
            principal=simulation.principal,
            interest=simulation.interest,
            fine=simulation.fine,
            fees=simulation.fees,
            discount_percent=simulation.discount_percent,
            discount_amount=simulation.discount_amount,
            total=simulation.total,
            entry_amount=simulation.entry,
            installments_count=simulation.installments_count,
            first_due_date=simulation.installments[0].due_date,
            approval_reasons=list(simulation.violations),
            justification=justification if status == Agreement.Status.PENDING_APPROVAL else "",
            call_id=(call_id or "")[:120],
            **({"submission_token": token} if token else {}),
        )
        AgreementInstallment.objects.bulk_create(
            AgreementInstallment(agreement=agreement, number=i.number, due_date=i.due_date, amount=i.amount)
            for i in simulation.installments
        )
        agreement.debts.set(debts)
        if status == Agreement.Status.ACTIVE:
            _move_debts_to_agreement(agreement)
        else:
            Client.objects.filter(pk=client.pk).update(status=Client.Status.NEGOTIATING)
        audit.record(
            tenant,
            user,
            audit.Action.AGREEMENT_CREATED,
            agreement,
            changes={
                "situação": ["", agreement.get_status_display()],
                "total": ["", str(agreement.total)],
                "entrada": ["", str(agreement.entry_amount)],
                "parcelas": ["", str(agreement.installments_count)],
                "desconto (%)": ["", str(agreement.discount_percent)],
                **({"justificativa": ["", justification]} if agreement.justification else {}),
            },
        )
        # Active or awaiting approval, the client is no longer called: out of the dialer lists now.
        core_services.stop_calling(client, reason="acordo", user=user)
        note = _("Acordo gerado") if status == Agreement.Status.ACTIVE else _("Acordo gerado (aguardando aprovação)")
        record_disposition(
            tenant,
            user,
            client,
            disposition_type(tenant, Behavior.NEGOTIATE),
            notes=f"{note}. {notes}".strip() if notes else note,
            call_id=call_id,
            one_per_call=False,
        )
    return agreement


def _move_debts_to_agreement(agreement: Agreement) -> None:
    agreement.debts.filter(status=Debt.Status.OPEN).update(status=Debt.Status.IN_AGREEMENT)
    Client.objects.filter(pk=agreement.client_id).update(status=Client.Status.AGREEMENT)
    Client.objects.filter(pk=agreement.client_id).refresh_summaries()


# (sender=Agreement, agreement=): an agreement stopped being a deal (rejected or cancelled), inside the transaction
# that changed it; the dashboard takes it out of the days it already stored.
agreement_withdrawn = Signal()


def _require_decider(user):
    if not is_back_office(user):
        raise PermissionDenied(_("Só supervisores e administradores aprovam acordos."))


def approve_agreement(tenant, user, agreement: Agreement, note: str = "") -> Agreement:
    return _decide_pending(
        tenant,
        user,
        agreement,
        note,
        Agreement.Status.ACTIVE,
        _move_debts_to_agreement,
        _("Só acordos aguardando aprovação podem ser aprovados."),
    )


def reject_agreement(tenant, user, agreement: Agreement, note: str = "") -> Agreement:
    """The note is the reason the operator is told: a rejection without one is refused."""
    note = clean_text(note, 2000).strip()
    if not note:
        raise ValidationError(_("Informe o motivo da rejeição: o operador recebe esse motivo."))
    return _decide_pending(
        tenant,
        user,
        agreement,
        note,
        Agreement.Status.REJECTED,
        lambda a: _restore_client_status(a.client_id),
        _("Só acordos aguardando aprovação podem ser rejeitados."),
    )


def _decide_pending(tenant, user, agreement, note, status, then, wrong_status_message) -> Agreement:
    _require_decider(user)
    with transaction.atomic():
        agreement = Agreement.objects.select_for_update().get(pk=agreement.pk, tenant=tenant)
        if agreement.status != Agreement.Status.PENDING_APPROVAL:
            raise ValidationError(wrong_status_message)
        _decide(agreement, user, note, status)
        then(agreement)
    return agreement


def cancel_agreement(tenant, user, agreement: Agreement, note: str = "") -> Agreement:
    """Cancel an active agreement: its debts go back to open."""
    _require_decider(user)
    with transaction.atomic():
        agreement = Agreement.objects.select_for_update().get(pk=agreement.pk, tenant=tenant)
        if agreement.status not in Agreement.OPEN_STATUSES:
            raise ValidationError(_("Só acordos ativos ou aguardando aprovação podem ser cancelados."))
        _decide(agreement, user, note, Agreement.Status.CANCELLED)
        agreement.debts.filter(status=Debt.Status.IN_AGREEMENT).update(status=Debt.Status.OPEN)
        _restore_client_status(agreement.client_id)
    return agreement


def _decide(agreement, user, note, status):
    before = agreement.get_status_display()
    agreement.status = status
    agreement.decided_by = user
    agreement.decided_at = timezone.now()
    agreement.decision_note = note
    agreement.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    changes = {"situação": [before, agreement.get_status_display()]}
    if note:
        changes["observação"] = ["", note]
    audit.record(agreement.tenant, user, audit.Action.AGREEMENT_DECIDED, agreement, changes=changes)
    if status in (Agreement.Status.REJECTED, Agreement.Status.CANCELLED):
        agreement_withdrawn.send(sender=Agreement, agreement=agreement)


def _restore_client_status(client_id):
    Client.objects.filter(pk=client_id).refresh_summaries()
    Client.objects.filter(pk=client_id).update(status=Client.Status.OPEN)
    Client.objects.filter(pk=client_id).refresh_situation()


def callbacks_due(tenant, user, day: datetime.date | None = None):
    """The operator's pending callbacks up to the end of `day` (today by default), oldest first."""
    day = day or timezone.localdate()
    end = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))
    return (
        CallDisposition.objects.filter(
            tenant=tenant, operator=user, callback_done=False, callback_at__isnull=False, callback_at__lt=end
        )
        .select_related("client")
        .order_by("callback_at")
    )


def pending_callbacks(tenant, user):
    """Every pending callback of the operator, overdue and upcoming, oldest first."""
    return (
        CallDisposition.objects.filter(tenant=tenant, operator=user, callback_done=False, callback_at__isnull=False)
        .select_related("client")
        .order_by("callback_at")
    )


def callbacks_holding(tenant, now, among):
    """hooks.dial_holds: clients with a callback scheduled for later leave the dialer's lists until its time."""
    later = CallDisposition.objects.filter(
        tenant=tenant, callback_done=False, callback_at__gt=now, client__isnull=False
    ).filter(among)
    return Q(pk__in=later.values("client_id"))
