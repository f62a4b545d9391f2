"""The two ways an export is made: frozen at once from a queryset (the command line), or queued from "Enviar" in the
Carteira for the worker to freeze. Both are made once per submission token."""

import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dialer.errors import NotConfiguredError
from dialer.exports.freeze import freeze
from dialer.exports.items import enqueue_export
from dialer.models import DialerExport
from dialer.tenant_api import is_configured, not_configured_message
from tenants import audit


def default_list_name() -> str:
    return timezone.localtime().strftime("Carteira %d/%m/%Y %H:%M")


def create_export(
    tenant,
    user,
    queryset,
    *,
    campaign_id: int,
    campaign_name: str = "",
    list_name: str = "",
    selection: dict | None = None,
    batch_size: int | None = None,
    list_weight: int | None = None,
    enqueue: bool = True,
    submission_token=None,
) -> DialerExport:
    """Freeze the selection now (one item per client to send) and queue the task that sends it: for the
    command line and code that holds a queryset. "Enviar" in the admin uses queue_export.

    The same submission_token (one per confirmation form) never creates a second export: a double
    click or a resubmitted page gets the first one back.
    """
    queryset = queryset.filter(tenant=tenant)

    def make():
        export = DialerExport.objects.create(
            submission_token=submission_token,
            **_export_fields(tenant, user, campaign_id, campaign_name, list_name, selection, batch_size),
            list_weight=list_weight,
            heartbeat_at=timezone.now(),
        )
        export = freeze(export, queryset)
        _record(export, user)
        return export

    export, created = _create_once(tenant, submission_token, make)
    if created and enqueue:
        transaction.on_commit(lambda: enqueue_export(export))
    return export


def queue_export(
    tenant,
    user,
    *,
    selection: dict,
    campaign_id: int,
    campaign_name: str = "",
    list_name: str = "",
    list_weight: int | None = None,
    submission_token=None,
) -> DialerExport:
    """ "Enviar" confirmed in the admin: the export is recorded and queued at once, whatever the selection's size;
    the worker freezes it and then sends it.

    `selection` is what the worker replays (dialer.exports.selection.CarteiraSelection's JSON): {"filtros": the
    Carteira's filters as a query string} for "select all", plus {"ids": [...]} for rows picked one by one. The
    submission token rule is create_export's.
    """

    def make():
        export = DialerExport.objects.create(
            submission_token=submission_token,
            **_export_fields(tenant, user, campaign_id, campaign_name, list_name, selection, None),
            list_weight=list_weight,
            selection_frozen=False,  # "na fila" until a worker takes it and starts preparing
            heartbeat_at=timezone.now(),
        )
        _record(export, user)
        return export

    export, created = _create_once(tenant, submission_token, make)
    if created:
        transaction.on_commit(lambda: enqueue_export(export))
    return export


def _create_once(tenant, submission_token, make) -> tuple[DialerExport, bool]:
    """The export `make()` creates in a transaction, unless the submission token already made one: then that one
    (also when the same form, submitted concurrently, wins the race). Refuses a tenant without 3C Plus."""
    if not is_configured(tenant):
        raise NotConfiguredError(not_configured_message())
    if submission_token is not None:
        existing = DialerExport.objects.filter(tenant=tenant, submission_token=submission_token).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            return make(), True
    except IntegrityError:
        if submission_token is None:
            raise
        # The same form, submitted concurrently, won the race: its export is the one.
        return DialerExport.objects.get(tenant=tenant, submission_token=submission_token), False


def _export_fields(tenant, user, campaign_id, campaign_name, list_name, selection, batch_size) -> dict:
    return {
        "tenant": tenant,
        "requested_by": user,
        "campaign_id": campaign_id,
        "campaign_name": campaign_name[:200],
        "list_name": (list_name or default_list_name())[:200],
        "selection": selection or {},
        "batch_size": batch_size or settings.DIALER_BATCH_SIZE,
    }


def _record(export, user):
    changes = {
        "campanha": ["", export.campaign_name or str(export.campaign_id)],
        "lista": ["", export.list_name],
        "seleção": ["", json.dumps(export.selection, ensure_ascii=False, default=str)],
    }
    if export.selection_frozen:
        changes["clientes a enviar"] = ["", str(export.to_send_count)]
        changes["saldo em aberto"] = ["", str(export.open_balance)]
    audit.record(export.tenant, user, audit.Action.DIALER_EXPORT, export, changes=changes)
