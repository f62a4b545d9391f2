"""Reads of the wallet shared by the admin, the commands and the pages."""

from django.db.models import Q
from stdnum.br import cpf as stdnum_cpf

from common.parsing import only_digits, try_parse_phone
from core.models import Client, ClientPhone


def client_search_q(term: str, tenant=None) -> Q:
    """What a back-office user means by a search: a CPF, a phone, an external id or a name.

    Phone matches are resolved to client ids first, so the final filter is an OR of indexed
    conditions (a bitmap OR in PostgreSQL) instead of a subquery that forces a scan.
    """
    term = term.strip()
    digits = only_digits(term)
    q = Q(external_id=term)
    if len(digits) == 11 and stdnum_cpf.is_valid(digits):
        q |= Q(cpf=digits)
    phone = try_parse_phone(term) if len(digits) >= 8 else None
    if phone:
        phones = ClientPhone.objects.filter(number=phone)
        if tenant is not None:
            phones = phones.filter(tenant=tenant)
        client_ids = list(phones.values_list("client_id", flat=True)[:500])
        q |= Q(pk__in=client_ids)
    if any(ch.isalpha() for ch in term):
        q |= Q(name__icontains=term)
    return q


def search_clients(tenant, q: str, limit: int = 50) -> list:
    """Name, CPF (with or without punctuation) or phone (any format), within the tenant; indexed lookups."""
    clients = Client.objects.for_tenant(tenant).filter(client_search_q(q, tenant)).select_related("creditor")
    return list(clients.order_by("name")[:limit])
