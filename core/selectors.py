"""Reads of the wallet shared by the admin, the commands and the pages."""

from django.db.models import Q
from django.db.models.functions import Reverse
from django.db.models.lookups import StartsWith
from stdnum.br import cpf as stdnum_cpf

from common.parsing import only_digits, try_parse_phone
from core.models import Client, ClientPhone
from core.search import fold

# A phone typed without its DDD: 8 digits (landline, or a mobile without its leading 9) or 9 (mobile).
LOCAL_NUMBER_DIGITS = (8, 9)
MAX_PHONE_MATCHES = 500


def client_search_q(term: str, tenant=None) -> Q:
    """What a back-office user means by a search: a CPF, a phone (with or without DDD), an external id, or words
    of a name and city, whatever their accents and case ("jessica" finds "Jéssica", "sao paulo" "São Paulo",
    "jessica sao paulo" the Jéssicas of São Paulo).

    Phone matches are resolved to client ids first, so the final filter is an OR of indexed
    conditions (a bitmap OR in PostgreSQL) instead of a subquery that forces a scan.
    """
    term = term.strip()
    digits = only_digits(term)
    q = Q(external_id=term)
    if len(digits) == 11 and stdnum_cpf.is_valid(digits):
        q |= Q(cpf=digits)
    phones = None
    has_letters = any(ch.isalpha() for ch in term)
    if len(digits) in LOCAL_NUMBER_DIGITS and not has_letters:
        # Its E.164 form ends with these digits: a prefix of the reversed number (indexed on PostgreSQL).
        phones = ClientPhone.objects.filter(StartsWith(Reverse("number"), digits[::-1]))
    elif len(digits) >= 8 and (phone := try_parse_phone(term)):
        phones = ClientPhone.objects.filter(number=phone)
    if phones is not None:
        if tenant is not None:
            phones = phones.filter(tenant=tenant)
        client_ids = list(phones.values_list("client_id", flat=True)[:MAX_PHONE_MATCHES])
        q |= Q(pk__in=client_ids)
    if has_letters:
        words = fold(term).split()
        # "da", "de": too short for the trigram index, and they narrow nothing the longer words do not.
        words = [word for word in words if len(word) >= 3] or words
        q |= Q(*(Q(search_text__contains=word) for word in words))
    return q


def search_clients(tenant, q: str, limit: int = 50) -> list:
    """Name, CPF (with or without punctuation) or phone (any format), within the tenant; indexed lookups."""
    clients = Client.objects.for_tenant(tenant).filter(client_search_q(q, tenant)).select_related("creditor")
    return list(clients.order_by("name")[:limit])
