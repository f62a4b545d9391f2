"""Talking to debtors: what may be sent now, queueing it, and what the channels report back.

A message is written first ("Enviando"), then handed to the worker once the transaction commits
(`transaction.on_commit`): no HTTP call ever runs inside a transaction, and a crash leaves a message the page shows
as not sent rather than one sent twice.
"""

import datetime
import logging
import re
import unicodedata

from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance import pix
from attendance.models import Agreement, AgreementInstallment, Message
from common.parsing import clean_text, format_brl
from core.models import Client
from dialer import live
from messaging import errors
from messaging.models import OptOut, WebhookReceipt
from messaging.settings_schema import whatsapp_config
from messaging.whatsapp import WhatsAppAPI
from tenants.roles import is_back_office
from tenants.secrets import SecretError

logger = logging.getLogger(__name__)

WINDOW = datetime.timedelta(hours=24)  # Meta's customer-service window, opened by the debtor's last message
MAX_TEXT = 4096  # the Cloud API's limit for a text body
# Whole messages that mean "stop" (after folding accents and case); a message that only contains one does not.
OPT_OUT_WORDS = {"sair", "parar", "pare", "stop", "cancelar", "descadastrar", "nao quero mais"}
STATUS_RANK = {
    Message.Status.QUEUED: 0,
    Message.Status.FAILED: 1,
    Message.Status.SENT: 2,
    Message.Status.DELIVERED: 3,
    Message.Status.READ: 4,
}


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z ]", "", text.lower()).strip()


def is_opt_out(text: str) -> bool:
    return fold(text) in OPT_OUT_WORDS


def whatsapp_api(tenant) -> WhatsAppAPI:
    try:
        config = whatsapp_config(tenant.stored_settings)
    except SecretError:
        raise errors.NotConfiguredError(
            _("O token do WhatsApp não pôde ser lido com a chave atual (FIELD_ENCRYPTION_KEY).")
        ) from None
    if config is None:
        raise errors.NotConfiguredError(_("A empresa ainda não tem o WhatsApp configurado."))
    return WhatsAppAPI(config.base_url, config.token, config.phone_number_id, config.waba_id)


def whatsapp_configured(tenant) -> bool:
    from messaging.settings_schema import ACCESS_TOKEN, PHONE_NUMBER_ID

    return bool(tenant.setting(PHONE_NUMBER_ID) and tenant.setting(ACCESS_TOKEN))


def last_inbound_at(client, channel=Message.Channel.WHATSAPP):
    return (
        Message.objects.filter(client=client, channel=channel, direction=Message.Direction.INBOUND)
        .order_by("-sent_at", "-id")
        .values_list("sent_at", flat=True)
        .first()
    )


def window_closes_at(client, now=None):
    """When the 24-hour window closes (None: closed, the debtor never wrote or wrote over a day ago)."""
    last = last_inbound_at(client)
    now = now or timezone.now()
    if last is None or last + WINDOW <= now:
        return None
    return last + WINDOW


def opted_out(client, channel) -> bool:
    return OptOut.objects.filter(tenant_id=client.tenant_id, client=client, channel=channel).exists()


def whatsapp_phone(client) -> str | None:
    """The number the chat talks to: the debtor's last inbound number, else the first active WhatsApp/mobile phone."""
    last = (
        Message.objects.filter(client=client, channel=Message.Channel.WHATSAPP, direction=Message.Direction.INBOUND)
        .exclude(phone="")
        .order_by("-sent_at", "-id")
        .values_list("phone", flat=True)
        .first()
    )
    if last:
        return last
    phones = client.phones.filter(active=True, do_not_call_reason="").order_by("-whatsapp", "priority", "id")
    phone = phones.filter(kind="celular").values_list("number", flat=True).first()
    return phone


def next_installment(client):
    return (
        AgreementInstallment.objects.filter(
            agreement__client=client,
            agreement__status=Agreement.Status.ACTIVE,
            status=AgreementInstallment.Status.OPEN,
        )
        .order_by("due_date", "number")
        .first()
    )


def pix_code(client) -> str:
    """The copia-e-cola code of the next open installment: the payments provider's dynamic charge where there is one
    (through attendance.pix.charges and its hook), else the tenant's static BR Code."""
    installment = next_installment(client)
    if installment is None:
        return ""
    found = pix.charges(client.tenant, [installment])
    return found[0].code if found else ""


def variables_for(client) -> dict[str, str]:
    """What a template's variables are filled with: {nome}, {valor}, {pix}."""
    return {
        "nome": client.name.split()[0].title() if client.name else "",
        "nome_completo": client.name,
        "valor": format_brl(client.open_balance),
        "pix": pix_code(client),
    }


def fill(text: str, values: dict[str, str]) -> str:
    """{nome}, {valor}, {pix} replaced; unknown names left as they are (never str.format: braces from a user)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


MAX_TEMPLATE_VARIABLE = 1024  # characters of one variable as sent: Meta refuses longer body parameters
SPACES_IN_A_ROW = 4  # Meta refuses a parameter with more (error 132018), as it does new lines and tabs


def operator_parameters(specs: list[str], client) -> list[str]:
    """A template's variables as the operator left them in the chat (filled from the client, maybe edited; a
    {nome}, {valor} or {pix} typed in is filled too): each one required, at most MAX_TEMPLATE_VARIABLE characters,
    on one line. Only the variables: the template's own text is Meta's, never the operator's."""
    values = variables_for(client) if any("{" in spec for spec in specs) else {}
    parameters = []
    for index, spec in enumerate(specs, 1):
        if len(spec) > MAX_TEMPLATE_VARIABLE:
            raise errors.InvalidRequestError(
                _("A variável %(n)s passa de %(max)s caracteres.") % {"n": index, "max": MAX_TEMPLATE_VARIABLE}
            )
        value = fill(spec, values).strip() if values else spec.strip()
        if not value:
            raise errors.InvalidRequestError(_("Preencha a variável %(n)s do modelo.") % {"n": index})
        if len(value) > MAX_TEMPLATE_VARIABLE:
            raise errors.InvalidRequestError(
                _("A variável %(n)s passa de %(max)s caracteres.") % {"n": index, "max": MAX_TEMPLATE_VARIABLE}
            )
        if value != clean_text(value) or any(character in value for character in "\n\r\t"):
            raise errors.InvalidRequestError(
                _("A variável %(n)s não pode ter quebras de linha, tabulações nem caracteres de controle.")
                % {"n": index}
            )
        if " " * (SPACES_IN_A_ROW + 1) in value:
            raise errors.InvalidRequestError(
                _("A variável %(n)s não pode ter mais de %(spaces)s espaços seguidos.")
                % {"n": index, "spaces": SPACES_IN_A_ROW}
            )
        parameters.append(value)
    return parameters


def template_parameters(spec: str, client) -> list[str]:
    """A step's or the operator's variables (one per line, {nome}…) filled from the client."""
    values = variables_for(client)
    return [fill(line.strip(), values)[:1024] for line in spec.splitlines() if line.strip()]


# -- sending --------------------------------------------------------------------------------------------------------


def _queue(message: Message) -> Message:
    from messaging import tasks

    message.save()
    transaction.on_commit(lambda: tasks.deliver.enqueue(message.pk))
    return message


def send_text(tenant, client, user, text: str, now=None) -> Message:
    """The operator's free text: only inside the 24-hour window, never to a debtor who opted out."""
    text = clean_text(text, MAX_TEXT).strip()
    if not text:
        raise errors.InvalidRequestError(_("Escreva a mensagem."))
    if opted_out(client, Message.Channel.WHATSAPP):
        raise errors.OptedOutError(_("O cliente pediu para não receber mensagens pelo WhatsApp."))
    if window_closes_at(client, now) is None:
        raise errors.WindowClosedError(
            _(
                "Fora da janela de 24 horas do WhatsApp: envie um modelo aprovado; o texto livre volta quando o "
                "cliente responder."
            )
        )
    phone = whatsapp_phone(client)
    if not phone:
        raise errors.RecipientError(_("O cliente não tem celular para WhatsApp."))
    return _queue(
        Message(
            tenant=tenant,
            client=client,
            channel=Message.Channel.WHATSAPP,
            direction=Message.Direction.OUTBOUND,
            body=text,
            phone=phone,
            sent_at=now or timezone.now(),
            status=Message.Status.QUEUED,
            author=user,
        )
    )


def send_template(tenant, client, user, template, parameters: list[str], now=None) -> Message:
    """An approved template (a whatsapp.Template), allowed outside the window; its body is stored as the debtor
    reads it."""
    if opted_out(client, Message.Channel.WHATSAPP):
        raise errors.OptedOutError(_("O cliente pediu para não receber mensagens pelo WhatsApp."))
    if len(parameters) != template.variables:
        raise errors.TemplateError(
            _("O modelo %(name)s pede %(n)s variáveis.") % {"name": template.name, "n": template.variables}
        )
    phone = whatsapp_phone(client)
    if not phone:
        raise errors.RecipientError(_("O cliente não tem celular para WhatsApp."))
    body = template.body
    for index, value in enumerate(parameters, 1):
        body = body.replace("{{" + str(index) + "}}", value)
    return _queue(
        Message(
            tenant=tenant,
            client=client,
            channel=Message.Channel.WHATSAPP,
            direction=Message.Direction.OUTBOUND,
            body=body or template.name,
            phone=phone,
            template={"name": template.name, "language": template.language, "parameters": parameters},
            sent_at=now or timezone.now(),
            status=Message.Status.QUEUED,
            author=user,
        )
    )


def deliver(message_id: int) -> str:
    """The worker's half: hand a queued message to its channel, outside any transaction."""
    message = Message.objects.select_related("tenant").filter(pk=message_id, status=Message.Status.QUEUED).first()
    if message is None:
        return "nada"
    # Claimed first: a second worker (a retried task) finds it no longer queued and sends nothing.
    claimed = Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED, external_id="").update(
        external_id=f"pending:{message.pk}"
    )
    if not claimed:
        return "nada"
    try:
        external_id = _hand_over(message)
    except errors.MessagingError as error:
        logger.info("Mensagem %s não enviada: %s (%s)", message.pk, error.message, error.code)
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED, error=clean_text(error.message, 300), external_id=""
        )
        publish(message.tenant_id, message.client_id, "status")
        return Message.Status.FAILED
    if Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(
        status=Message.Status.SENT, external_id=external_id[:200]
    ):
        publish(message.tenant_id, message.client_id, "status")
    return Message.Status.SENT


def _hand_over(message: Message) -> str:
    if message.channel == Message.Channel.WHATSAPP:
        with whatsapp_api(message.tenant) as api:
            if message.template:
                spec = message.template
                return api.send_template(message.phone, spec["name"], spec["language"], spec["parameters"])
            return api.send_text(message.phone, message.body)
    from messaging import channels

    return channels.hand_over(message)


# -- what the channels report back ----------------------------------------------------------------------------------


def first_time(tenant, key: str) -> bool:
    """True the first time this (tenant, key) is seen; a replay of the same event answers False."""
    try:
        with transaction.atomic():
            WebhookReceipt.objects.create(tenant=tenant, key=key[:250])
    except IntegrityError:
        return False
    return True


def apply_status(tenant, external_id: str, status: str, error: str = "") -> bool:
    """Move a message forward (sent → delivered → read); a late "delivered" never undoes a "read"."""
    message = Message.objects.filter(tenant=tenant, external_id=external_id).only("pk", "status", "client_id").first()
    if message is None:
        return False
    if status == Message.Status.FAILED:
        forward = message.status in (Message.Status.QUEUED, Message.Status.SENT)
    else:
        forward = STATUS_RANK.get(status, 0) > STATUS_RANK.get(message.status, 0)
    if not forward:
        return False
    Message.objects.filter(pk=message.pk).update(status=status, error=clean_text(error, 300))
    publish(tenant.pk, message.client_id, "status")
    return True


def receive(tenant, client, *, channel, phone, body, external_id, at, media_type="", media_id="") -> Message:
    """An inbound message: stored once, and "SAIR"/"PARAR" blocks the channel."""
    message = Message.objects.create(
        tenant=tenant,
        client=client,
        channel=channel,
        direction=Message.Direction.INBOUND,
        body=body,
        phone=phone,
        sent_at=at,
        status=Message.Status.RECEIVED,
        external_id=external_id,
        media_type=media_type,
        media_id=media_id,
    )
    if body and is_opt_out(body):
        OptOut.objects.get_or_create(
            tenant=tenant,
            client=client,
            channel=channel,
            defaults={"reason": _("O devedor respondeu “%(text)s”.") % {"text": body[:50]}, "message": message},
        )
    publish(tenant.pk, client.pk, "recebida", operator_id=client.assigned_operator_id)
    return message


def publish(tenant_id: int, client_id: int, kind: str, operator_id: int | None = None) -> None:
    """Tell the open chats and consoles of this tenant that a client's messages changed (dialer.live): sent when
    the caller's transaction commits. `kind` is "recebida" (the debtor wrote), "status" (a message's status
    changed) or "vista" (its unread messages were seen)."""
    if not live.available():  # no stream listens (the SQLite demo): the pages poll instead
        return
    if operator_id is None:
        operator_id = Client.objects.filter(pk=client_id).values_list("assigned_operator_id", flat=True).first()
    live.publish(live.message_payload(tenant_id, client_id, operator_id, kind))


def client_for_phone(tenant, e164: str):
    """The client a number belongs to: the one with the newest message on it, else the newest with the phone."""
    client_id = (
        Message.objects.filter(tenant=tenant, phone=e164)
        .order_by("-sent_at")
        .values_list("client_id", flat=True)
        .first()
    )
    if client_id is None:
        client_id = (
            Client.objects.filter(tenant=tenant, phones__number=e164)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
    return Client.objects.filter(pk=client_id).first() if client_id else None


def mark_seen(client, now=None) -> int:
    seen = Message.objects.filter(
        tenant_id=client.tenant_id, client=client, direction=Message.Direction.INBOUND, seen_at__isnull=True
    ).update(seen_at=now or timezone.now())
    if seen:  # the console's counts drop, wherever they are open
        publish(client.tenant_id, client.pk, "vista", operator_id=client.assigned_operator_id)
    return seen


def unread_counts(tenant, user) -> list[dict]:
    """The clients with unseen inbound messages, for the console: those assigned to the user, or any for the back
    office; newest first, bounded."""
    rows = Message.objects.filter(tenant=tenant, direction=Message.Direction.INBOUND, seen_at__isnull=True)
    if not is_back_office(user):
        rows = rows.filter(client__assigned_operator=user)
    return list(
        rows.values("client_id", "client__name")
        .annotate(unread=Count("id"), last=Max("sent_at"))
        .order_by("-last")[:50]
    )
