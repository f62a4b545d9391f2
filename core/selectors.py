"""Reads of the wallet shared by the admin, the commands and the pages."""

import json

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.utils.functional import cached_property
from stdnum.br import cpf as stdnum_cpf

from common.parsing import only_digits, try_parse_phone
from core.models import Client, ClientPhone


def estimated_count(queryset) -> int | None:
    """The planner's row estimate for a query (PostgreSQL), or None where there is none."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class CappedCountPaginator(Paginator):
    """Counts exactly up to WALLET_EXACT_COUNT_LIMIT rows, estimates past it: no full COUNT(*)."""

    @cached_property
    def count(self):
        limit = settings.WALLET_EXACT_COUNT_LIMIT
        capped = self.object_list.order_by()[: limit + 1].count()
        if capped <= limit:
            self.is_estimate = False
            return capped
        self.is_estimate = True
        return max(estimated_count(self.object_list) or 0, limit + 1)


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
