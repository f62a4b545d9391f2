"""The atendimento's entries on the client's timeline (registered from AttendanceConfig.ready)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from attendance.models import Agreement, CallDisposition, Message, Payment
from common.parsing import format_brl, format_phone
from core.timeline import Entry, older, user_name


def dispositions(client, before, limit):
    rows = older(
        CallDisposition.objects.filter(client=client).select_related("type", "operator", "phone"),
        "created_at",
        before,
        limit,
    )
    entries = []
    for d in rows:
        parts = []
        if d.phone_id:
            parts.append(_("Telefone %(p)s") % {"p": format_phone(d.phone.number)})
        if d.callback_at:
            parts.append(_("Retornar em %(t)s") % {"t": d.callback_at.astimezone().strftime("%d/%m/%Y %H:%M")})
        if d.notes:
            parts.append(d.notes)
        if d.changed_at:
            parts.append(
                _("Alterada em %(t)s (antes: %(p)s)")
                % {"t": d.changed_at.astimezone().strftime("%d/%m/%Y %H:%M"), "p": d.changed_from}
            )
        if d.qualification_status:
            status = d.get_qualification_status_display()
            parts.append(f"{status}: {d.qualification_error}" if d.qualification_error else status)
        entries.append(Entry(d.created_at, "tabulacao", "call", d.type.name, " · ".join(parts), user_name(d.operator)))
    return entries


def agreements(client, before, limit):
    rows = older(Agreement.objects.filter(client=client).select_related("operator"), "created_at", before, limit)
    return [
        Entry(
            a.created_at,
            "acordo",
            "handshake",
            _("Acordo #%(id)s gerado — hoje %(status)s") % {"id": a.pk, "status": a.get_status_display().lower()},
            a.plan_display(),
            user_name(a.operator),
        )
        for a in rows
    ]


# A decision's time is kept on the agreement, so a cancellation after the approval is the one shown.
DECISION_TITLES = {
    Agreement.Status.REJECTED: _lazy("Acordo #%(id)s rejeitado"),
    Agreement.Status.CANCELLED: _lazy("Acordo #%(id)s cancelado"),
}


def _decision_detail(agreement) -> str:
    if agreement.decision_note and agreement.status in DECISION_TITLES:
        return _("Motivo: %(m)s") % {"m": agreement.decision_note}
    return agreement.decision_note


def agreement_decisions(client, before, limit):
    """A supervisor's approval or rejection of an agreement that waited for one: when, by whom, and the note."""
    rows = older(
        Agreement.objects.filter(client=client, decided_at__isnull=False).select_related("decided_by"),
        "decided_at",
        before,
        limit,
    )
    return [
        Entry(
            a.decided_at,
            "acordo",
            "verified",
            DECISION_TITLES.get(a.status, _("Acordo #%(id)s aprovado")) % {"id": a.pk},
            _decision_detail(a),
            user_name(a.decided_by),
        )
        for a in rows
    ]


def agreement_endings(client, before, limit):
    """Quitado or quebrado: when the agreement ended and why, beside the entry of its creation."""
    rows = older(Agreement.objects.filter(client=client, closed_at__isnull=False), "closed_at", before, limit)
    return [
        Entry(
            a.closed_at,
            "acordo",
            "handshake",
            _("Acordo #%(id)s %(status)s") % {"id": a.pk, "status": a.get_status_display().lower()},
            a.close_reason,
        )
        for a in rows
    ]


def payments(client, before, limit):
    rows = older(
        Payment.objects.filter(client=client).select_related("installment", "debt", "created_by"),
        "created_at",
        before,
        limit,
    )
    entries = []
    for p in rows:
        if p.installment_id:
            target = _("%(i)s do acordo #%(id)s") % {"i": p.installment, "id": p.installment.agreement_id}
        else:
            target = _("título %(d)s") % {"d": p.debt}
        parts = [target, p.get_method_display(), _("pago em %(d)s") % {"d": p.paid_on.strftime("%d/%m/%Y")}]
        if p.credit_amount:
            parts.append(_("%(v)s em crédito") % {"v": format_brl(p.credit_amount)})
        if p.external_id:
            parts.append(_("ID %(id)s") % {"id": p.external_id})
        if p.reversed_at:
            parts.append(_("estornado em %(d)s") % {"d": p.reversed_at.astimezone().strftime("%d/%m/%Y")})
        entries.append(
            Entry(
                p.created_at,
                "pagamento",
                "payments",
                _("Pagamento de %(v)s") % {"v": format_brl(p.amount)},
                " · ".join(parts),
                user_name(p.created_by),
            )
        )
    return entries


def reversals(client, before, limit):
    """An estorno is an event of its own: the payment's entry stays where it was recorded."""
    rows = older(
        Payment.objects.filter(client=client, reversed_at__isnull=False).select_related("reversed_by"),
        "reversed_at",
        before,
        limit,
    )
    return [
        Entry(
            p.reversed_at,
            "pagamento",
            "undo",
            _("Estorno de %(v)s (%(k)s)") % {"v": format_brl(p.amount), "k": p.get_reversal_kind_display()},
            _("Pagamento de %(d)s · motivo: %(r)s") % {"d": p.paid_on.strftime("%d/%m/%Y"), "r": p.reversal_reason},
            user_name(p.reversed_by),
        )
        for p in rows
    ]


def messages(client, before, limit):
    rows = older(Message.objects.filter(client=client), "sent_at", before, limit)
    return [
        Entry(
            m.sent_at,
            "mensagem",
            "chat",
            _("%(channel)s %(d)s · %(status)s")
            % {
                "channel": m.get_channel_display(),
                "d": m.get_direction_display().lower(),
                "status": m.get_status_display().lower(),
            },
            m.body[:140],
            user_name(m.author),
        )
        for m in rows.select_related("author")
    ]


SOURCES = [dispositions, agreements, agreement_decisions, agreement_endings, payments, reversals, messages]
