"""Money that arrives by itself: the PIX webhook, the pull of received PIX, the CNAB 240 retorno, and the queue of
payments that match nothing.

Every arrival is stored first (one row per endToEndId, devolução or nosso número: a webhook repeated, the pull of
the same PIX or a file uploaded twice finds the row), then posted by a task through attendance.payments.post_payment,
which is idempotent by the same id (Payment.external_id). What cannot be posted is kept, with the reason, for a
supervisor to link ("pagamentos sem vínculo").
"""

import datetime
import json
import logging
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance import payments as attendance_payments
from attendance.models import AgreementInstallment, Payment
from common import periodic
from common.parsing import in_date_window
from payments import cnab, provider
from payments.errors import ProviderError
from payments.models import Charge, PixSync, ReceivedPayment

logger = logging.getLogger(__name__)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
E2E_RE = re.compile(r"^[A-Za-z0-9]{1,35}$")
TXID_RE = re.compile(r"^[A-Za-z0-9]{1,35}$")
AMOUNT_RE = re.compile(r"^[0-9]{1,10}\.[0-9]{2}$")
STATIC_TXID_RE = re.compile(r"^AC([0-9]{1,12})P([0-9]{1,3})$")  # attendance.pix.installment_txid
MAX_ITEMS = 1000
RAW_MAX = 4000
PULL_OVERLAP = datetime.timedelta(minutes=10)
PULL_FIRST_WINDOW = datetime.timedelta(days=1)
PULL_MAX_WINDOW = datetime.timedelta(days=5)


class BadPayload(ValueError):
    """A webhook body that is not the standard's {"pix": [...]}."""


def _bounded_raw(item: dict) -> dict:
    text = json.dumps(item, ensure_ascii=True)[:RAW_MAX]
    return {"json": text}


def _local_date(horario) -> datetime.date | None:
    if not isinstance(horario, str) or len(horario) > 40:
        return None
    try:
        moment = datetime.datetime.fromisoformat(horario.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SAO_PAULO)
    try:
        day = moment.astimezone(SAO_PAULO).date()
    except OverflowError:  # 0001-01-01T00:00Z is the day before year 1 in Brazil
        return None
    return day if in_date_window(day) and day <= timezone.localdate() + datetime.timedelta(days=1) else None


def parse_pix_item(item) -> tuple[dict | None, str]:
    """One received PIX of the standard ({endToEndId, txid, valor, horario, devolucoes}) checked: (fields, "") or
    (None, why)."""
    if not isinstance(item, dict):
        return None, "item não é um objeto"
    e2e, txid, valor = item.get("endToEndId"), item.get("txid", ""), item.get("valor")
    if not isinstance(e2e, str) or not E2E_RE.match(e2e):
        return None, "endToEndId inválido"
    if txid is None:
        txid = ""
    if not isinstance(txid, str) or (txid and not TXID_RE.match(txid)):
        return None, "txid inválido"
    if not isinstance(valor, str) or not AMOUNT_RE.match(valor) or Decimal(valor) <= 0:
        return None, "valor inválido"
    paid_on = _local_date(item.get("horario"))
    if paid_on is None:
        return None, "horario inválido"
    refunds = []
    for refund in item.get("devolucoes") or []:
        if not isinstance(refund, dict):
            continue
        refund_id, amount = refund.get("id"), refund.get("valor")
        if (
            isinstance(refund_id, str)
            and E2E_RE.match(refund_id)
            and isinstance(amount, str)
            and AMOUNT_RE.match(amount)
        ):
            refunds.append({"id": refund_id, "valor": Decimal(amount), "status": str(refund.get("status", ""))[:30]})
    payer = item.get("infoPagador") if isinstance(item.get("infoPagador"), str) else ""
    return {
        "e2e": e2e,
        "txid": txid,
        "amount": Decimal(valor),
        "paid_on": paid_on,
        "refunds": refunds,
        "payer": payer[:200],
    }, ""


def parse_webhook(body: bytes) -> list:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise BadPayload("corpo não é JSON") from error
    if not isinstance(data, dict) or not isinstance(data.get("pix"), list):
        raise BadPayload('esperado {"pix": [...]}')
    if len(data["pix"]) > MAX_ITEMS:
        raise BadPayload("itens demais")
    return data["pix"]


def store_pix(tenant, items: list, source: str) -> tuple[list[int], int]:
    """Store the received PIX (and their devoluções) not stored yet; (new row ids to post, items refused)."""
    new, refused = [], 0
    for item in items:
        fields, why = parse_pix_item(item)
        if fields is None:
            refused += 1
            logger.info("PIX recebido recusado (empresa %s): %s", tenant.pk, why)
            continue
        row = _store(
            tenant,
            source=source,
            external_id=fields["e2e"],
            txid=fields["txid"],
            amount=fields["amount"],
            paid_on=fields["paid_on"],
            payer=fields["payer"],
            raw=_bounded_raw(item),
        )
        if row is not None:
            new.append(row)
        for refund in fields["refunds"]:
            # A devolução reverses money already posted: kept for the estorno (attendance's reversal), not posted.
            _store(
                tenant,
                source=source,
                external_id=f"DEV:{refund['id']}",
                txid=fields["e2e"][:35],
                amount=refund["valor"],
                paid_on=fields["paid_on"],
                status=ReceivedPayment.Status.REFUND,
                error=_("Devolução do PIX %(e2e)s (%(status)s): estorne o pagamento.")
                % {"e2e": fields["e2e"], "status": refund["status"] or "?"},
                raw=_bounded_raw(item),
            )
    return new, refused


def _store(tenant, **fields) -> int | None:
    """The row's id when it is new; None when it was already stored."""
    if ReceivedPayment.objects.filter(tenant=tenant, external_id=fields["external_id"]).exists():
        return None
    try:
        with transaction.atomic():
            return ReceivedPayment.objects.create(tenant=tenant, **fields).pk
    except IntegrityError:
        return None


def enqueue_posting(ids) -> None:
    from payments.tasks import post_received

    for pk in ids:
        post_received.enqueue(pk)


def receive_webhook(tenant, body: bytes) -> dict:
    """The webhook's work: store, then queue the posting once the rows are committed."""
    items = parse_webhook(body)
    with transaction.atomic():
        new, refused = store_pix(tenant, items, ReceivedPayment.Source.WEBHOOK)
        transaction.on_commit(lambda: enqueue_posting(new))
    return {"recebidos": len(items), "novos": len(new), "recusados": refused}


# Posting ------------------------------------------------------------------------------------------------------


def match(received: ReceivedPayment) -> tuple[AgreementInstallment | None, Charge | None]:
    """The installment a received payment pays: our charge's txid (or nosso número), or the static code's txid."""
    kind = Charge.Kind.BOLETO if received.source == ReceivedPayment.Source.CNAB else Charge.Kind.PIX
    if received.txid:
        key = {"bank_number": received.txid} if kind == Charge.Kind.BOLETO else {"txid": received.txid}
        charge = (
            Charge.objects.filter(tenant=received.tenant, kind=kind, **key)
            .select_related("installment")
            .order_by("-pk")
            .first()
        )
        if charge is not None:
            return charge.installment, charge
        static = STATIC_TXID_RE.match(received.txid)
        if static and kind == Charge.Kind.PIX:
            installment = AgreementInstallment.objects.filter(
                agreement__tenant=received.tenant, agreement_id=int(static[1]), number=int(static[2])
            ).first()
            return installment, None
    return None, None


def post_received(received_id: int, *, user=None, installment=None) -> ReceivedPayment:
    """Post one received payment on the installment it matches (or the one a supervisor chose)."""
    received = ReceivedPayment.objects.select_related("tenant").get(pk=received_id)
    if received.status not in (
        ReceivedPayment.Status.PENDING,
        ReceivedPayment.Status.UNMATCHED,
        ReceivedPayment.Status.FAILED,
    ):
        return received
    charge = None
    if installment is None:
        installment, charge = match(received)
    if installment is None:
        return _mark(
            received, ReceivedPayment.Status.UNMATCHED, _("Nenhuma cobrança ou parcela com este identificador.")
        )
    method = Payment.Method.BOLETO if received.source == ReceivedPayment.Source.CNAB else Payment.Method.PIX
    data = attendance_payments.PaymentInput(
        amount=received.amount,
        paid_on=min(received.paid_on, timezone.localdate()),
        method=method,
        external_id=received.external_id[:80],
        source=Payment.Source.PROVIDER,
        notes=_("%(source)s, identificador %(id)s")
        % {"source": received.get_source_display(), "id": received.external_id},
    )
    try:
        payment, _created = attendance_payments.post_payment(received.tenant, user, data, installment=installment)
    except ValidationError as error:
        return _mark(received, ReceivedPayment.Status.UNMATCHED, "; ".join(error.messages)[:300], user=user)
    received.status = ReceivedPayment.Status.POSTED
    received.payment = payment
    received.charge = charge
    received.error = ""
    if user is not None:
        received.resolved_by, received.resolved_at = user, timezone.now()
    received.save(update_fields=["status", "payment", "charge", "error", "resolved_by", "resolved_at"])
    if charge is not None:
        Charge.objects.filter(pk=charge.pk).update(status=Charge.Status.PAID, updated_at=timezone.now())
    return received


def _mark(received, status, error, user=None) -> ReceivedPayment:
    received.status = status
    received.error = str(error)[:300]
    received.save(update_fields=["status", "error"])
    return received


def resolve(tenant, user, received: ReceivedPayment, installment: AgreementInstallment) -> ReceivedPayment:
    """A supervisor links a payment of the queue to an installment: posted now, or the reason it cannot be."""
    if received.tenant_id != tenant.pk or installment.agreement.tenant_id != tenant.pk:
        raise ValidationError(_("Pagamento ou parcela de outra empresa."))
    if received.status not in (ReceivedPayment.Status.UNMATCHED, ReceivedPayment.Status.FAILED):
        raise ValidationError(_("Este pagamento já foi tratado."))
    result = post_received(received.pk, user=user, installment=installment)
    if result.status != ReceivedPayment.Status.POSTED:
        raise ValidationError(result.error)
    return result


# The pull ----------------------------------------------------------------------------------------------------


def pull_received(tenant, *, now=None) -> int:
    """GET /pix since the watermark (minus an overlap: a PIX settles in the PSP's books a little after its time);
    stores what the webhook missed and queues its posting. Returns how many were new."""
    now = now or timezone.now()
    sync, _created = PixSync.objects.get_or_create(tenant=tenant)
    start = (sync.watermark - PULL_OVERLAP) if sync.watermark else now - PULL_FIRST_WINDOW
    start = max(start, now - PULL_MAX_WINDOW)
    try:
        with provider.api_for(tenant) as api:
            items = api.received_pix(start, now)
    except ProviderError as error:
        PixSync.objects.filter(pk=sync.pk).update(last_error=error.message[:300], last_run_at=now)
        return 0
    new, _refused = store_pix(tenant, items, ReceivedPayment.Source.PULL)
    PixSync.objects.filter(pk=sync.pk).update(watermark=now, last_run_at=now, last_error="")
    transaction.on_commit(lambda: enqueue_posting(new))
    return len(new)


def pull_due_tenants() -> list[int]:
    """Periodic (every worker's heartbeat): queue the pull of each configured tenant that is due; a conditional
    update of its last run claims it, so two workers never queue it twice."""
    from payments.tasks import pull_tenant

    now = timezone.now()
    queued = []
    for tenant in provider.configured_tenants().only("pk", "settings"):
        if not provider.is_configured(tenant):
            continue
        if periodic.claim_due(PixSync, tenant, settings.PAYMENTS_PULL_EVERY_SECONDS, now):
            pull_tenant.enqueue(tenant.pk)
            queued.append(tenant.pk)
    return queued


# CNAB 240 ----------------------------------------------------------------------------------------------------


def import_cnab(tenant, user, content: bytes) -> dict:
    """A CNAB 240 retorno: each liquidação stored and posted now (no network call: the file is the bank's word).
    Returns {"posted", "unmatched", "repeated", "errors": [(line, message)]}."""
    parsed = cnab.parse_retorno(content)
    summary = {"posted": 0, "unmatched": 0, "repeated": 0, "errors": parsed.errors}
    for paid in parsed.payments:
        row = _store(
            tenant,
            source=ReceivedPayment.Source.CNAB,
            external_id=f"BOL:{paid.bank_number}",
            txid=paid.bank_number[:35],
            amount=paid.amount,
            paid_on=paid.paid_on,
            raw={"linha": paid.line},
        )
        if row is None:
            summary["repeated"] += 1
            continue
        result = post_received(row, user=None)
        summary["posted" if result.status == ReceivedPayment.Status.POSTED else "unmatched"] += 1
    return summary
