"""The dialer's vocabulary for the apps above it: what a tabulação means, and the calls the atendimento reads."""

import dataclasses
from collections.abc import Iterator

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import Client


class DispositionBehavior(models.TextChoices):
    """What a tabulação means: the atendimento records it, the dialer maps it to a 3C Plus qualification."""

    VOICEMAIL = "caixa_postal", _("Caixa Postal")
    INTERRUPTED = "ligacao_interrompida", _("Ligação Interrompida")
    WRONG_CONTACT = "contato_incorreto", _("Contato Incorreto")
    CALLBACK = "retornar", _("Retornar")
    NEGOTIATE = "negociar", _("Negociar")
    OTHER = "outro", _("Outro")


@dataclasses.dataclass(frozen=True)
class ConnectedCall:
    """A dialer call connected to an operator: what the console needs to open the client's page."""

    id: int  # increasing: the console asks for calls after the last id it saw
    call_id: str
    phone: str  # as people read it
    client: Client | None


@dataclasses.dataclass(frozen=True)
class CallOnLine:
    """The dialer call a client's page was opened for: the number on the line, and whether it is still going."""

    phone: str  # as people read it
    live: bool  # connected and not yet over (3C Plus has not sent its history)


@dataclasses.dataclass(frozen=True)
class CallRecording:
    """A call's recording as the dialer streams it: 200 or 206 (a byte range), the player's headers, the bytes."""

    call_id: str
    status: int
    headers: dict
    chunks: Iterator[bytes]  # iterate once, to the end or close() it: it holds the connection to the dialer
