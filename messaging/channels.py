"""E-mail and SMS: the adapters the worker hands a queued message to (WhatsApp is messaging/whatsapp.py).

E-mail goes through Django's mail API with django-anymail as the backend, so any ESP anymail supports (SES,
SendGrid, Mailgun, Postmark, Brevo…) is a setting (EMAIL_BACKEND, ANYMAIL), and anymail's test backend runs locally;
its tracking webhooks (/mensagens/anymail/<esp>/tracking/) move the message to entregue/lida/falhou.
SMS goes through one provider, Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded,
basic auth; StatusCallback posts MessageSid/MessageStatus signed with X-Twilio-Signature), per tenant.
"""

import base64
import hashlib
import hmac

import httpx
from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils.translation import gettext as _

from attendance.models import Message
from messaging import errors
from tenants import secrets
from tenants.secrets import SecretError

SMS_ACCOUNT = "sms_twilio_account_sid"
SMS_TOKEN = "sms_twilio_auth_token"
SMS_FROM = "sms_twilio_from"
SMS_BASE_URL = "sms_twilio_base_url"
SMS_ROOT = "https://api.twilio.com/2010-04-01"
SMS_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
# Twilio's MessageStatus values → ours.
SMS_STATUSES = {
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "read": Message.Status.READ,
    "undelivered": Message.Status.FAILED,
    "failed": Message.Status.FAILED,
}
# anymail's normalized tracking events → ours.
EMAIL_STATUSES = {
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "opened": Message.Status.READ,
    "clicked": Message.Status.READ,
    "bounced": Message.Status.FAILED,
    "rejected": Message.Status.FAILED,
    "failed": Message.Status.FAILED,
}


def hand_over(message: Message) -> str:
    if message.channel == Message.Channel.EMAIL:
        return send_email(message)
    if message.channel == Message.Channel.SMS:
        return send_sms(message)
    raise errors.InvalidRequestError(_("Canal desconhecido."))


def send_email(message: Message) -> str:
    if not message.phone:  # the address is kept where the phone goes for the other channels
        raise errors.RecipientError(_("O cliente não tem e-mail."))
    email = EmailMessage(
        subject=_("Mensagem de %(tenant)s") % {"tenant": message.tenant.name},
        body=message.body,
        to=[message.phone],
    )
    try:
        email.send()
    except Exception as error:  # anymail raises AnymailError; SMTP and other backends their own
        raise errors.UnavailableError(_("O provedor de e-mail recusou o envio."), detail=type(error).__name__) from None
    status = getattr(email, "anymail_status", None)
    message_id = getattr(status, "message_id", None)
    return f"email:{message_id}" if message_id is not None else f"email:local:{message.pk}"


def on_email_tracking(sender, event, esp_name, **kwargs):
    """anymail's tracking signal: one event of an ESP's webhook, already verified by anymail."""
    from messaging.services import apply_status

    status = EMAIL_STATUSES.get(str(event.event_type))
    if status is None or event.message_id is None:
        return
    for message in Message.objects.filter(external_id=f"email:{event.message_id}").select_related("tenant")[:1]:
        apply_status(message.tenant, message.external_id, status, str(event.description or "")[:300])


def sms_config(tenant):
    if not (tenant.setting(SMS_ACCOUNT) and tenant.setting(SMS_TOKEN) and tenant.setting(SMS_FROM)):
        raise errors.NotConfiguredError(_("A empresa ainda não tem o SMS configurado."))
    try:
        token = secrets.decrypt(tenant.setting(SMS_TOKEN))
    except SecretError:
        raise errors.NotConfiguredError(_("O token do SMS não pôde ser lido com a chave atual.")) from None
    return {
        "base_url": (tenant.setting(SMS_BASE_URL) or SMS_ROOT).rstrip("/"),
        "account": tenant.setting(SMS_ACCOUNT),
        "token": token,
        "from": tenant.setting(SMS_FROM),
    }


def send_sms(message: Message) -> str:
    config = sms_config(message.tenant)
    callback = settings.PUBLIC_BASE_URL + reverse("sms_status", args=[message.tenant_id])
    url = f"{config['base_url']}/Accounts/{config['account']}/Messages.json"
    try:
        response = httpx.post(
            url,
            data={"To": message.phone, "From": config["from"], "Body": message.body, "StatusCallback": callback},
            auth=(config["account"], config["token"]),
            timeout=SMS_TIMEOUT,
        )
    except httpx.ConnectError:
        raise errors.UnavailableError(_("Não foi possível falar com o provedor de SMS.")) from None
    except httpx.HTTPError:
        raise errors.UnknownOutcomeError(_("A resposta do provedor de SMS não chegou.")) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code in (401, 403):
        raise errors.AuthenticationError(_("O provedor de SMS recusou as credenciais."), status=response.status_code)
    if response.status_code == 429:
        raise errors.RateLimitedError(_("O provedor de SMS limitou os envios."), status=429)
    if not response.is_success:
        detail = str(body.get("message") or "")[:200] if isinstance(body, dict) else ""
        raise errors.InvalidRequestError(_("O provedor de SMS recusou: %(d)s") % {"d": detail or response.status_code})
    sid = body.get("sid") if isinstance(body, dict) else None
    if not isinstance(sid, str) or not sid or len(sid) > 64:
        raise errors.UnknownOutcomeError(_("O provedor de SMS aceitou sem devolver o identificador."))
    return f"sms:{sid}"


def twilio_signature(token: str, url: str, params: dict) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL + each POST key and value, keys sorted))."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()
