"""What a tenant must set up in 3C Plus for the loop (send → call → screen pop → qualification) to work, and what
"Testar conexão" can check of it: through the API (the default campaign exists, is not paused, copies our
identifier to its calls) and through what we received (each webhook event we use arrived lately).

The checks read the saved settings; none holds a transaction while it calls 3C Plus.
"""

import dataclasses
import datetime

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from dialer.errors import DialerError
from dialer.models import WebhookDelivery
from dialer.settings_schema import AGENT_TOKEN, CAMPAIGN
from dialer.tenant_api import api_for
from dialer.webhooks import EVENTS
from tenants.models import Membership, Role

# A weekend without calls is normal; three days without an event on a working account is not.
WEBHOOK_STALE_AFTER = datetime.timedelta(days=3)
# How far back the last delivery of an event is looked for (older ones are as good as none).
WEBHOOK_LOOKBACK = datetime.timedelta(days=30)
MISSING_AGENTS_SHOWN = 5

OK, FAIL, UNKNOWN = "ok", "falha", "nao_verificado"


@dataclasses.dataclass(frozen=True)
class Check:
    label: str
    status: str  # OK, FAIL or UNKNOWN (could not be checked)
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == OK


def webhook_url(tenant) -> str:
    return settings.PUBLIC_BASE_URL + reverse("threecplus_webhook", args=[tenant.webhook_secret])


def guide(tenant) -> dict:
    """What the setup section tells the admin to configure in 3C Plus (the template words it)."""
    return {
        "url": webhook_url(tenant),
        "events": EVENTS,
        "campaign_id": tenant.setting(CAMPAIGN),
        "agent_token": bool(tenant.setting(AGENT_TOKEN)),
        "operators_without_agent": operators_without_agent(tenant),
    }


def operators_without_agent(tenant) -> list[str]:
    return list(
        Membership.objects.filter(
            tenant=tenant, role=Role.OPERATOR, threecplus_agent_id="", user__is_active=True
        ).values_list("user__username", flat=True)
    )


def run(tenant, connection: dict, now=None) -> list[Check]:
    """Every check, given test_connection's result (its campaign list is reused: one GET /campaigns)."""
    now = now or timezone.now()
    return [*campaign_checks(tenant, connection), *webhook_checks(tenant, now), agent_check(tenant)]


def campaign_checks(tenant, connection: dict) -> list[Check]:
    label = _("Campanha padrão")
    campaign_id = tenant.setting(CAMPAIGN)
    if not campaign_id:
        return [Check(label, FAIL, _("Nenhuma campanha padrão escolhida: escolha-a acima e salve."))]
    if not connection.get("ok"):
        return [Check(label, UNKNOWN, _("Não verificada: a conexão com o 3C Plus falhou."))]
    found = next((c for c in connection["campaigns"] if c["id"] == campaign_id), None)
    if found is None:
        return [
            Check(
                label,
                FAIL,
                _("A campanha %(id)s não existe no 3C Plus (ou o token não a enxerga): escolha outra.")
                % {"id": campaign_id},
            )
        ]
    checks = [Check(label, OK, _("“%(name)s” (ID %(id)s) existe no 3C Plus.") % found)]
    active = _("Campanha ativa")
    if found["paused"]:
        checks.append(Check(active, FAIL, _("A campanha está pausada: o 3C Plus não disca até ela ser retomada.")))
    else:
        checks.append(Check(active, OK, _("A campanha não está pausada.")))
    checks.append(_identifier_check(tenant, campaign_id))
    return checks


def _identifier_check(tenant, campaign_id: int) -> Check:
    """The campaign's "copiar identificador" (copy_identifier): the connected call then carries the identifier we
    send with each contact (the client's id), which opens the right client for the operator."""
    label = _("Identificador na ligação")
    try:
        with api_for(tenant) as api:
            campaign = api.get_campaign(campaign_id)
    except DialerError as error:
        return Check(label, UNKNOWN, _("Não verificado: %(error)s") % {"error": error.message})
    value = campaign.get("copy_identifier") if isinstance(campaign, dict) else None
    if value is True:
        return Check(label, OK, _("A campanha copia o identificador do contato para a ligação."))
    if value is False:
        return Check(
            label,
            FAIL,
            _(
                "A campanha não copia o identificador para a ligação: ligue “Copiar identificador” nas "
                "configurações da campanha no 3C Plus, ou o atendimento não sabe qual cliente abrir."
            ),
        )
    return Check(label, UNKNOWN, _("O 3C Plus não informou se a campanha copia o identificador: confira na campanha."))


def webhook_checks(tenant, now) -> list[Check]:
    last = dict(
        WebhookDelivery.objects.filter(tenant=tenant, event__in=EVENTS, received_at__gte=now - WEBHOOK_LOOKBACK)
        .values_list("event")
        .annotate(last=Max("received_at"))
    )
    checks = []
    for event in EVENTS:
        label = _("Evento %(event)s") % {"event": event}
        at = last.get(event)
        if at is None:
            checks.append(
                Check(
                    label,
                    FAIL,
                    _(
                        "Nenhuma entrega nos últimos %(days)s dias: cadastre o endereço do webhook acima no 3C Plus "
                        "com este evento marcado."
                    )
                    % {"days": WEBHOOK_LOOKBACK.days},
                )
            )
            continue
        when = date_format(timezone.localtime(at), "d/m/Y H:i")
        if now - at > WEBHOOK_STALE_AFTER:
            checks.append(
                Check(
                    label,
                    FAIL,
                    _(
                        "A última entrega foi em %(when)s, há mais de %(days)s dias: confira se o webhook continua "
                        "ativo no 3C Plus (ele é desligado depois de 50 falhas de entrega)."
                    )
                    % {"when": when, "days": WEBHOOK_STALE_AFTER.days},
                )
            )
        else:
            checks.append(Check(label, OK, _("Última entrega em %(when)s.") % {"when": when}))
    return checks


def agent_check(tenant) -> Check:
    label = _("ID de agente dos operadores")
    missing = operators_without_agent(tenant)
    if not missing:
        return Check(label, OK, _("Todos os operadores ativos têm o ID de agente do 3C Plus."))
    names = ", ".join(missing[:MISSING_AGENTS_SHOWN]) + ("…" if len(missing) > MISSING_AGENTS_SHOWN else "")
    return Check(
        label,
        FAIL,
        _(
            "%(n)s operador(es) sem ID de agente (%(names)s): as ligações deles não abrem o atendimento. "
            "Cadastre-o na página de cada usuário."
        )
        % {"n": len(missing), "names": names},
    )
