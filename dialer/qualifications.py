"""Tabulação → qualificação: the 3C Plus qualification catalogue, its mapping to our tabulações, the operator's
tabulação written back to 3C Plus as the call's qualification, and what a qualification made inside 3C Plus does
here (its action: the phone or the client off, or a callback)."""

import logging

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.parsing import parse_id, strip_accents
from core import hooks
from core import services as core_services
from core.models import Client, ClientPhone, DoNotCallReason
from dialer.client import dial_number, phone_e164
from dialer.errors import DialerError
from dialer.models import DialerCallEvent, Qualification, QualificationMapping, QualifiedAction
from dialer.same_call import same_call_ids
from dialer.settings_schema import AGENT_TOKEN
from dialer.tenant_api import agent_api_for, api_for
from dialer.types import DispositionBehavior
from tenants import audit

logger = logging.getLogger(__name__)


def writes_qualifications(tenant) -> bool:
    """The write-back is on once the tenant has saved an agent token."""
    return bool(tenant.setting(AGENT_TOKEN))


def _campaign_ids(raw) -> list[int]:
    ids = []
    for item in raw or []:
        value = parse_id(item.get("id") if isinstance(item, dict) else item)
        if value is not None:
            ids.append(value)
    return ids


def _name_key(text: str) -> str:
    """Names compared without accents, case or surrounding spaces ("Caixa postal " is "Caixa Postal")."""
    return strip_accents(text).casefold().strip()


def find_qualification(tenant, read: dict):
    """The tenant's Qualification that 3C Plus named (webhooks.read_qualification's {id} and/or {name}): by id,
    else by name without accents, case or surrounding spaces. None when the catalogue has neither."""
    if read.get("id"):
        found = Qualification.objects.filter(tenant=tenant, remote_id=read["id"]).first()
        if found is not None:
            return found
    if read.get("name"):
        wanted = _name_key(read["name"])
        # The catalogue is a few dozen names: compared here, where accents are folded as everywhere else.
        return next((q for q in Qualification.objects.filter(tenant=tenant) if _name_key(q.name) == wanted), None)
    return None


def find_event_qualification(event_id: int, read: dict):
    """find_qualification in the catalogue of the tenant holding this call event, in one query when nothing is
    found (a qualification the catalogue lacks, or no catalogue yet): the catalogue's ids and names are read together
    (a few dozen rows) and compared here, the Qualification itself loaded only once found. The webhook asks this for
    every history it stores."""
    if not read.get("id") and not read.get("name"):
        return None
    # Written out: the ORM's building of this query cost more CPU than the rest of the delivery's storing.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT q.id, q.remote_id, q.name FROM {Qualification._meta.db_table} q WHERE q.tenant_id = "
            f"(SELECT e.tenant_id FROM {DialerCallEvent._meta.db_table} e WHERE e.id = %s) "
            "ORDER BY q.list_name, q.name",
            [event_id],
        )
        catalogue = cursor.fetchall()
    found = None
    if read.get("id"):
        found = next((pk for pk, remote_id, _name in catalogue if remote_id == read["id"]), None)
    if found is None and read.get("name"):
        wanted = _name_key(read["name"])
        found = next((pk for pk, _remote_id, name in catalogue if _name_key(name) == wanted), None)
    return None if found is None else Qualification.objects.filter(pk=found).first()


def sync_qualifications(tenant) -> dict:
    """Read the qualification lists and their qualifications; keep the mapping of those that still exist.

    A tabulação still unmapped in a list is mapped to the qualification of the same name, if any.
    """
    with api_for(tenant) as api:
        fetched = [(ql, api.list_qualifications(ql["id"])) for ql in api.list_qualification_lists()]
    now = timezone.now()
    counts = {"lists": len(fetched), "qualifications": 0, "removed": 0, "mapped": 0}
    with transaction.atomic():
        seen = set()
        for qualification_list, qualifications in fetched:
            for remote in qualifications:
                seen.add(remote["id"])
                Qualification.objects.update_or_create(
                    tenant=tenant,
                    remote_id=remote["id"],
                    defaults={
                        "name": str(remote.get("name") or remote["id"])[:200],
                        "list_id": qualification_list["id"],
                        "list_name": str(qualification_list.get("name") or qualification_list["id"])[:200],
                        "list_campaigns": _campaign_ids(qualification_list.get("campaigns")),
                        "allow_schedule": bool(remote.get("allow_schedule")),
                        "synced_at": now,
                    },
                )
        counts["qualifications"] = len(seen)
        counts["removed"] = (
            Qualification.objects.filter(tenant=tenant)
            .exclude(remote_id__in=seen)
            .delete()[1]
            .get(Qualification._meta.label, 0)
        )
        mapped = set(QualificationMapping.objects.filter(tenant=tenant).values_list("list_id", "behavior"))
        by_name = {(q.list_id, _name_key(q.name)): q for q in Qualification.objects.filter(tenant=tenant)}
        for list_id in {q.list_id for q in by_name.values()}:
            for behavior in DispositionBehavior:
                match = by_name.get((list_id, _name_key(behavior.label)))
                if match and (list_id, behavior.value) not in mapped:
                    QualificationMapping.objects.create(
                        tenant=tenant, list_id=list_id, behavior=behavior.value, qualification=match
                    )
                    counts["mapped"] += 1
    return counts


def _mapping_view(tenant) -> dict:
    return {
        f"{m.qualification.list_name} · {m.get_behavior_display()}": m.qualification.name
        for m in QualificationMapping.objects.filter(tenant=tenant).select_related("qualification")
    }


def save_mappings(tenant, chosen: dict, user=None) -> None:
    """chosen: {(list_id, behavior): Qualification or None}; None removes the mapping."""
    before = _mapping_view(tenant)
    with transaction.atomic():
        for (list_id, behavior), qualification in chosen.items():
            if qualification is None:
                QualificationMapping.objects.filter(tenant=tenant, list_id=list_id, behavior=behavior).delete()
                continue
            if qualification.tenant_id != tenant.pk or qualification.list_id != list_id:
                raise DialerError(_("Qualificação de outra lista."))
            QualificationMapping.objects.update_or_create(
                tenant=tenant, list_id=list_id, behavior=behavior, defaults={"qualification": qualification}
            )
        changes = audit.diff(before, _mapping_view(tenant))
        if changes:
            audit.record(
                tenant, user, audit.Action.QUALIFICATIONS_CHANGED, changes=changes, object_repr="Qualificações"
            )


def mapping_for(tenant, behavior: str, campaign_id: str = ""):
    """The mapping for the call's campaign (through its qualification list), else the first one."""
    mappings = list(
        QualificationMapping.objects.filter(tenant=tenant, behavior=behavior)
        .select_related("qualification")
        .order_by("list_id")
    )
    if parse_id(campaign_id) is not None:
        for mapping in mappings:
            if parse_id(campaign_id) in mapping.qualification.list_campaigns:
                return mapping
    return mappings[0] if mappings else None


def qualify_call(tenant, *, call_id: str, behavior: str, agent_id: str, note="", callback_at=None, phone=""):
    """POST the tabulação as the call's qualification, as the operator's agent. Returns the Qualification.

    Raises DialerError with the reason to show on the disposition.
    """
    if not agent_id:
        raise DialerError(_("O operador não tem o ID de agente do 3C Plus (Usuários → vínculo)."))
    # The tabulação's call id is the connected event's when it came from the screen pop; any other id of the call
    # finds it too.
    event = DialerCallEvent.objects.filter(
        tenant=tenant, call_id__in=same_call_ids(tenant, call_id), event=DialerCallEvent.Event.CONNECTED
    ).first()
    if not Qualification.objects.filter(tenant=tenant).exists():
        # Never synced: read the catalogue now, so a new tenant's first tabulação already maps by name.
        sync_qualifications(tenant)
    mapping = mapping_for(tenant, behavior, event.campaign_id if event else "")
    if mapping is None:
        raise DialerError(
            _("A tabulação “%(b)s” não tem qualificação do 3C Plus: configure em Discador → Qualificações.")
            % {"b": DispositionBehavior(behavior).label}
        )
    try:
        with agent_api_for(tenant, agent_id) as api:
            api.qualify_call(
                call_id,
                mapping.qualification.remote_id,
                note=note[:1000],
                manual=bool(event and event.is_manual),
                callback_at=timezone.localtime(callback_at) if callback_at else None,
                callback_phone=dial_number(phone) if phone and callback_at else None,
            )
    except DialerError as error:
        logger.info("Qualificação da ligação %s (empresa %s) falhou: %s", call_id, tenant.slug, error)
        raise
    return mapping.qualification


# A qualification's action until the admin chooses one: what the tabulações mapped to it do on our page...
MAPPED_ACTIONS = {
    DispositionBehavior.WRONG_CONTACT: QualifiedAction.WRONG_NUMBER,
    DispositionBehavior.CALLBACK: QualifiedAction.CALLBACK,
}
# ...else what its name says (compared as _name_key), the first match in this order.
NAMED_ACTIONS = (
    (
        QualifiedAction.WRONG_NUMBER,
        ("numero errado", "numero incorreto", "telefone errado", "telefone incorreto", "contato incorreto", "engano"),
    ),
    (QualifiedAction.DO_NOT_CALL, ("nao ligar", "nao perturbe", "nao contatar", "bloquear")),
    (QualifiedAction.CALLBACK, ("retornar", "retorno", "agendar", "agendamento", "ligar depois")),
)


def default_action(qualification: Qualification, mapped_behaviors) -> str:
    """The action a qualification has until the admin chooses one: from the tabulações mapped to it
    (`mapped_behaviors`), else from its name (accents and case ignored)."""
    for behavior, action in MAPPED_ACTIONS.items():
        if behavior in mapped_behaviors:
            return action
    key = _name_key(qualification.name)
    for action, words in NAMED_ACTIONS:
        if any(word in key for word in words):
            return action
    return QualifiedAction.NOTHING


def actions_for(tenant) -> dict[int, str]:
    """{qualification pk: its action} for the tenant's catalogue, in two queries."""
    mapped: dict[int, set] = {}
    for qualification_id, behavior in QualificationMapping.objects.filter(tenant=tenant).values_list(
        "qualification_id", "behavior"
    ):
        mapped.setdefault(qualification_id, set()).add(behavior)
    return {
        q.pk: q.action or default_action(q, mapped.get(q.pk, set()))
        for q in Qualification.objects.filter(tenant=tenant)
    }


def action_of(qualification: Qualification) -> str:
    if qualification.action:
        return qualification.action
    return default_action(qualification, set(qualification.mappings.values_list("behavior", flat=True)))


def save_actions(tenant, chosen: dict, user=None) -> None:
    """chosen: {Qualification: action}; every one is stored as chosen (no longer read from the defaults)."""
    before = _actions_view(tenant)
    with transaction.atomic():
        for qualification, action in chosen.items():
            if qualification.tenant_id != tenant.pk:
                raise DialerError(_("Qualificação de outra empresa."))
            Qualification.objects.filter(pk=qualification.pk).update(action=QualifiedAction(action))
        changes = audit.diff(before, _actions_view(tenant))
        if changes:
            audit.record(
                tenant, user, audit.Action.QUALIFICATIONS_CHANGED, changes=changes, object_repr="Qualificações"
            )


def _actions_view(tenant) -> dict:
    names = {q.pk: f"{q.list_name} · {q.name}" for q in Qualification.objects.filter(tenant=tenant)}
    return {names[pk]: str(QualifiedAction(action).label) for pk, action in actions_for(tenant).items()}


def apply_dialer_qualification(tenant, client: Client, qualification: Qualification, *, phone: str, call_id: str, at):
    """What a call qualified so does here (the qualification's action), once: a phone or a client already off
    (by our page's tabulação, or an earlier report of the same call) is not marked again, and the callback is one
    tabulação per call. Returns the action."""
    action = action_of(qualification)
    if action == QualifiedAction.WRONG_NUMBER:
        e164 = phone_e164(phone or "")
        number = (
            ClientPhone.objects.filter(tenant=tenant, client=client, number=e164, do_not_call_reason="").first()
            if e164
            else None
        )
        if number is not None:
            core_services.set_phone_do_not_call(number, DoNotCallReason.WRONG_NUMBER)
    elif action == QualifiedAction.DO_NOT_CALL:
        if Client.objects.filter(pk=client.pk, do_not_call_reason="").exists():
            core_services.set_do_not_call(client, DoNotCallReason.DEBTOR_REQUEST)
    elif action == QualifiedAction.CALLBACK:
        hooks.callback_requested(tenant, client, call_id=call_id, at=at)
    return action
