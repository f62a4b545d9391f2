"""A charge per installment: created at the PSP when an agreement becomes active, cancelled when it stops being one.

Never inside the request: the agreement's save queues `sync_agreement` (on commit) and the worker talks to the PSP.
Each charge row is written first, in a short transaction, with our own txid; the PUT then runs with no transaction
open, and its answer is written after. A PUT repeated (a retry, two workers) names the same charge.
"""

import datetime
import logging
import secrets
import uuid

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from attendance.models import Agreement, AgreementInstallment
from payments import provider
from payments.errors import NotConfiguredError, ProviderError, RefusedError
from payments.models import Charge

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# The sweep joins every open charge with its agreement: once a minute per cache is plenty (the heartbeat is 10 s).
SWEEP_EVERY_SECONDS = 60
DAYS_PAYABLE_AFTER_DUE = 30


def new_txid(kind: str) -> str:
    # API Pix: 26 to 35 letters and digits. A boleto's "seu número": up to 15.
    return uuid.uuid4().hex if kind == Charge.Kind.PIX else "B" + secrets.token_hex(7).upper()


def kinds_for(tenant) -> list[str]:
    return [Charge.Kind.PIX] + ([Charge.Kind.BOLETO] if provider.boleto_enabled(tenant) else [])


def sync_agreement(agreement_id: int) -> int:
    """Make the agreement's charges match its state; returns how many charges changed at the PSP."""
    agreement = Agreement.objects.select_related("tenant").filter(pk=agreement_id).first()
    if agreement is None or not provider.is_configured(agreement.tenant):
        return 0
    if agreement.status == Agreement.Status.ACTIVE:
        ensure_rows(agreement)
        pending = Charge.objects.filter(installment__agreement=agreement, status=Charge.Status.PENDING)
        return sum(register(charge.pk) for charge in pending)
    if agreement.status not in Agreement.OPEN_STATUSES:
        return cancel_open(Charge.objects.filter(installment__agreement=agreement))
    return 0


def ensure_rows(agreement) -> None:
    """A pending charge for each open installment and kind that has none open (the unique constraint keeps two
    workers from writing two)."""
    tenant = agreement.tenant
    for installment in agreement.installments.filter(status=AgreementInstallment.Status.OPEN):
        for kind in kinds_for(tenant):
            if (
                Charge.objects.filter(installment=installment, kind=kind)
                .exclude(status=Charge.Status.CANCELLED)
                .exists()
            ):
                continue
            try:
                with transaction.atomic():
                    Charge.objects.create(
                        tenant=tenant,
                        installment=installment,
                        kind=kind,
                        txid=new_txid(kind),
                        amount=installment.open_amount,
                        due_date=installment.due_date,
                    )
            except IntegrityError:
                pass  # another worker wrote it first


def _debtor(client) -> dict:
    document = (client.cpf or "").strip()
    key = "cnpj" if len(document) == 14 else "cpf"
    return {key: document, "nome": (client.name or "")[:200]}


def register(charge_id: int) -> bool:
    """Create the charge at the PSP (no transaction open); True when it is active now."""
    charge = Charge.objects.select_related(
        "tenant", "installment__agreement__client", "installment__agreement__creditor"
    ).get(pk=charge_id)
    if charge.status not in (Charge.Status.PENDING, Charge.Status.FAILED):
        return False
    agreement = charge.installment.agreement
    creditor = agreement.creditor
    update = {"attempts": charge.attempts + 1}
    try:
        with provider.api_for(charge.tenant) as api:
            if charge.kind == Charge.Kind.PIX:
                answer = api.put_cobv(
                    charge.txid,
                    amount=charge.amount,
                    due_date=charge.due_date,
                    debtor=_debtor(agreement.client),
                    days_after_due=DAYS_PAYABLE_AFTER_DUE,
                    fine_percent=creditor.fine_percent or None,
                    interest_percent_month=creditor.monthly_interest_percent or None,
                    message=str(charge.installment)[:60] + f" - acordo {agreement.pk}",
                )
                update.update(
                    status=Charge.Status.ACTIVE,
                    pix_code=str(answer.get("pixCopiaECola") or "")[:512],
                    location=str(answer.get("location") or "")[:200],
                    error="",
                )
            else:
                answer = api.register_boleto(
                    charge.txid, amount=charge.amount, due_date=charge.due_date, payer=_debtor(agreement.client)
                )
                update.update(
                    status=Charge.Status.ACTIVE,
                    boleto_line=answer["linhaDigitavel"],
                    bank_number=answer["nossoNumero"].lstrip("0") or "0",  # as the CNAB retorno is read
                    error="",
                )
    except NotConfiguredError as error:
        update.update(status=Charge.Status.FAILED, error=error.message[:300], attempts=MAX_ATTEMPTS)
    except ProviderError as error:
        final = isinstance(error, RefusedError) or update["attempts"] >= MAX_ATTEMPTS
        update.update(status=Charge.Status.FAILED, error=error.message[:300])
        if final:
            update["attempts"] = MAX_ATTEMPTS
        logger.info("Cobrança %s não registrada: %s", charge.txid, error.message)
    # Written only while nothing else moved it meanwhile (cancelled while the PUT was on its way: the sweep cancels).
    Charge.objects.filter(pk=charge.pk, status=charge.status).update(**update, updated_at=timezone.now())
    return update["status"] == Charge.Status.ACTIVE


def cancel_open(charges) -> int:
    """Mark the open charges "cancelando" and cancel each at the PSP; returns how many the PSP removed."""
    ids = list(
        charges.filter(status__in=[*Charge.OPEN_STATUSES, Charge.Status.CANCELLING]).values_list("pk", flat=True)
    )
    Charge.objects.filter(pk__in=ids).update(status=Charge.Status.CANCELLING, updated_at=timezone.now())
    return sum(cancel(pk) for pk in ids)


def cancel(charge_id: int) -> bool:
    charge = Charge.objects.select_related("tenant").get(pk=charge_id)
    if charge.status != Charge.Status.CANCELLING:
        return False
    try:
        with provider.api_for(charge.tenant) as api:
            if charge.kind == Charge.Kind.PIX:
                api.cancel_charge("cobv", charge.txid)
            else:
                api.cancel_boleto(charge.txid)
    except RefusedError as error:
        # Never created (404) or already paid there: nothing left to remove; the payment, if any, comes by itself.
        logger.info("Cobrança %s não cancelada no PSP: %s", charge.txid, error.message)
    except ProviderError as error:
        Charge.objects.filter(pk=charge.pk).update(error=error.message[:300], updated_at=timezone.now())
        return False
    Charge.objects.filter(pk=charge.pk, status=Charge.Status.CANCELLING).update(
        status=Charge.Status.CANCELLED, updated_at=timezone.now()
    )
    return True


def stale_open_charges():
    """Open charges whose agreement stopped being active (broken by the daily job, which updates in bulk and sends
    no signal; quitado) or whose installment was paid another way (a manual baixa)."""
    return Charge.objects.filter(status__in=[Charge.Status.PENDING, Charge.Status.ACTIVE]).filter(
        ~Q(installment__agreement__status=Agreement.Status.ACTIVE)
        | Q(installment__status=AgreementInstallment.Status.PAID)
    )


def sweep_charges() -> list[int]:
    """Periodic (every worker's heartbeat): queue what is left to do at the PSP. Safe from several workers."""
    from payments.tasks import cancel_charge, register_charge

    if not cache.add("payments:sweep_charges", True, SWEEP_EVERY_SECONDS):
        return []
    queued = []
    with transaction.atomic():
        stale = list(stale_open_charges().values_list("pk", flat=True)[:200])
        Charge.objects.filter(pk__in=stale).update(status=Charge.Status.CANCELLING, updated_at=timezone.now())
    for pk in stale:
        cancel_charge.enqueue(pk)
        queued.append(pk)
    retry_before = timezone.now() - datetime.timedelta(minutes=2)
    for pk in Charge.objects.filter(
        Q(status=Charge.Status.FAILED, attempts__lt=MAX_ATTEMPTS) | Q(status=Charge.Status.PENDING),
        updated_at__lt=retry_before,
    ).values_list("pk", flat=True)[:200]:
        # A claim by update: the row's updated_at moves, so the next beat does not queue it again for two minutes.
        if Charge.objects.filter(pk=pk, updated_at__lt=retry_before).update(updated_at=timezone.now()):
            register_charge.enqueue(pk)
            queued.append(pk)
    return queued


def installment_charges(tenant, installments) -> dict:
    """core.hooks.installment_charges: the active charges of these installments, as the atendimento shows them."""
    found: dict[int, dict] = {}
    for charge in Charge.objects.filter(
        tenant=tenant, installment__in=[i.pk for i in installments], status=Charge.Status.ACTIVE
    ).order_by("kind"):
        entry = found.setdefault(charge.installment_id, {"amount": charge.amount, "code": "", "boleto_line": ""})
        if charge.kind == Charge.Kind.PIX:
            entry["code"] = charge.pix_code
        else:
            entry["boleto_line"] = charge.boleto_line
    return found
