"""What the Carteira selects, in one place: a typed filter read from the Carteira's query string (the page's list
filters and search, and the worker replaying a confirmed "select all") or built from the command line's options,
and one `select(tenant)`.

Its stored form is its query string (`to_query`/`from_query`), the one the page's links carry: an export queued
from the Carteira keeps {"filtros": that string}, so the jobs stored before this module replay unchanged.
Filters on other apps' state (the dialer's "enviado ao discador") are theirs: they wrap this filter.
"""

import dataclasses
import datetime
from decimal import Decimal, InvalidOperation
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db.models import Q
from django.http import QueryDict

from common.parsing import parse_id
from core.models import Client, aging_filter
from core.selectors import client_search_q

# The Carteira's query parameters, as its list filters and search box write them.
CREDITOR = "creditor__id__exact"
CREDITOR_NAME = "credor"  # the command line's --creditor by name; no box of the page writes it
STATUS = "status__exact"
AGING = "atraso"
DUE = "oldest_due_date"  # _from, _to (settings.DATE_INPUT_FORMATS, as the box reads them)
BALANCE = "open_balance"  # _from, _to
STATE = "uf"
CITY = "city__icontains"
DIALABLE = "discavel"
DO_NOT_CALL = "nao_ligar"
SEARCH = "q"
# The page's own (ordering, page, popups...) and the "is null" halves of the creditor and status boxes, which
# select nothing on their own: none of them selects.
NOT_FILTERS = frozenset(
    {"o", "p", "e", "all", "_facets", "_popup", "_to_field", "_source_model", "creditor__isnull", "status__isnull"}
)


class InvalidWalletFilter(ValueError):
    """The query string names a filter or a value the Carteira cannot apply."""


@dataclasses.dataclass(frozen=True)
class WalletFilter:
    creditor_ids: tuple[int, ...] = ()
    creditor_names: tuple[str, ...] = ()  # any of these names, whatever the case
    statuses: tuple[str, ...] = ()
    aging: tuple[str, ...] = ()  # AGING_BUCKETS keys, any of them
    due_from: datetime.date | None = None
    due_to: datetime.date | None = None
    balance_from: Decimal | None = None
    balance_to: Decimal | None = None
    state: str = ""
    city: str = ""
    dialable: str = ""  # "sim": with an active phone; "nao": without
    do_not_call: str = ""  # "sim": marked "não ligar"; "nao": may be called
    search: str = ""
    # Any other field lookup the page's URL carries (`?status=quitado`), as the admin applies it: (key, values).
    lookups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_options(cls, *, creditors=(), statuses=(), aging=()) -> "WalletFilter":
        """The command line's: creditors by name or id, statuses and aging buckets, each repeatable."""
        ids = tuple(parse_id(c) for c in creditors if parse_id(c) is not None)
        names = tuple(c for c in creditors if parse_id(c) is None)
        return cls(creditor_ids=ids, creditor_names=names, statuses=tuple(statuses), aging=tuple(aging))

    @classmethod
    def from_query(cls, query: "QueryDict | str") -> "WalletFilter":
        """The filter a Carteira query string stands for. Raises InvalidWalletFilter on a creditor id that is not
        a number; a date or amount range it cannot read is left out, as the page leaves it out."""
        if isinstance(query, str):
            query = QueryDict(query)
        known = {CREDITOR, CREDITOR_NAME, STATUS, AGING, STATE, CITY, DIALABLE, DO_NOT_CALL, SEARCH}
        known |= {f"{DUE}_from", f"{DUE}_to", f"{BALANCE}_from", f"{BALANCE}_to"}
        due_from, due_to = _range(query, DUE, _date)
        balance_from, balance_to = _range(query, BALANCE, _amount)
        return cls(
            creditor_ids=_ids(_given(query, CREDITOR)),
            creditor_names=tuple(v for v in query.getlist(CREDITOR_NAME) if v),
            statuses=_given(query, STATUS),
            aging=tuple(v for v in query.getlist(AGING) if v),
            due_from=due_from,
            due_to=due_to,
            balance_from=balance_from,
            balance_to=balance_to,
            state=query.get(STATE, ""),
            city=query.getlist(CITY, [""])[0],
            dialable=query.get(DIALABLE, ""),
            do_not_call=query.get(DO_NOT_CALL, ""),
            search=query.get(SEARCH, ""),
            lookups=tuple(
                (key, tuple(values))
                for key, values in sorted(query.lists())
                if key not in known and key not in NOT_FILTERS
            ),
        )

    def to_query(self) -> str:
        """The query string from_query reads back as this filter (only what selects, in a fixed order)."""
        query = QueryDict(mutable=True)
        query.setlist(CREDITOR, [str(i) for i in self.creditor_ids])
        query.setlist(CREDITOR_NAME, list(self.creditor_names))
        query.setlist(STATUS, list(self.statuses))
        query.setlist(AGING, list(self.aging))
        for name, low, high, text in (
            (DUE, self.due_from, self.due_to, datetime.date.isoformat),
            (BALANCE, self.balance_from, self.balance_to, str),
        ):
            query.setlist(f"{name}_from", [text(low)] if low is not None else [])
            query.setlist(f"{name}_to", [text(high)] if high is not None else [])
        for key, value in (
            (STATE, self.state),
            (CITY, self.city),
            (DIALABLE, self.dialable),
            (DO_NOT_CALL, self.do_not_call),
            (SEARCH, self.search),
        ):
            query.setlist(key, [value] if value else [])
        for key, values in self.lookups:
            query.setlist(key, list(values))
        return query.urlencode()

    def part(self, *fields: str) -> "WalletFilter":
        """Only these fields of the filter: what one box of the page selects."""
        return WalletFilter(**{name: getattr(self, name) for name in fields})

    def q(self, tenant=None) -> Q:
        """The filter as one condition on Client (`tenant` narrows the phone matches of a search)."""
        q = Q()
        if self.creditor_ids or self.creditor_names:
            q &= reduce(
                or_,
                [
                    *(Q(creditor_id=creditor_id) for creditor_id in self.creditor_ids),
                    *(Q(creditor__name__iexact=name) for name in self.creditor_names),
                ],
            )
        if self.statuses:
            q &= Q(status__in=self.statuses)
        buckets = [bucket for bucket in map(aging_filter, self.aging) if bucket is not None]
        if buckets:
            q &= reduce(or_, buckets)
        if self.due_from is not None:
            q &= Q(oldest_due_date__gte=self.due_from)
        if self.due_to is not None:
            q &= Q(oldest_due_date__lte=self.due_to)
        if self.balance_from is not None:
            q &= Q(open_balance__gte=self.balance_from)
        if self.balance_to is not None:
            q &= Q(open_balance__lte=self.balance_to)
        if self.state:
            q &= Q(state=self.state)
        if self.city:
            q &= Q(city__iexact=self.city.strip())
        q &= _yes_no(self.dialable, yes=~Q(main_phone=""), no=Q(main_phone=""))
        # "sim" reads the small partial index of the marked clients (client_tenant_do_not_call).
        q &= _yes_no(self.do_not_call, yes=~Q(do_not_call_reason=""), no=Q(do_not_call_reason=""))
        if self.search.strip():
            q &= client_search_q(self.search, tenant)
        for key, values in self.lookups:
            q &= reduce(or_, (Q((key, _lookup_value(key, value))) for value in values))
        return q

    def select(self, tenant):
        """The tenant's clients this filter selects. Raises InvalidWalletFilter when a lookup the query string
        carried does not apply to the wallet (any more)."""
        for key, _values in self.lookups:
            try:
                field = Client._meta.get_field(key.split("__")[0])
            except FieldDoesNotExist:
                raise InvalidWalletFilter(key) from None
            if field.is_relation:  # the page refuses a lookup across a relation none of its boxes offers
                raise InvalidWalletFilter(key)
        try:
            return Client.objects.for_tenant(tenant).filter(self.q(tenant))
        except (FieldError, ValueError, ValidationError) as error:
            raise InvalidWalletFilter(str(error)) from None


def _given(query, key) -> tuple[str, ...]:
    """A box's values when its first is set (the page reads the first to decide whether the box filters)."""
    values = query.getlist(key)
    return tuple(values) if values and values[0] else ()


def _ids(values) -> tuple[int, ...]:
    try:
        return tuple(int(value) for value in values)
    except ValueError:
        raise InvalidWalletFilter(f"{CREDITOR}={values}") from None


def _range(query, name, parse) -> tuple:
    """A range's two ends; both left out when either one cannot be read (as the page's range boxes do)."""
    ends = []
    for suffix in ("_from", "_to"):
        text = query.getlist(f"{name}{suffix}", [""])[0]
        value = parse(text) if text else None
        if text and value is None:
            return None, None
        ends.append(value)
    return tuple(ends)


def _date(text: str) -> datetime.date | None:
    for date_format in settings.DATE_INPUT_FORMATS:
        try:
            return datetime.datetime.strptime(text, date_format).date()
        except (ValueError, TypeError):
            continue
    return None


def _amount(text: str) -> Decimal | None:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _yes_no(value: str, *, yes: Q, no: Q) -> Q:
    return {"sim": yes, "nao": no}.get(value, Q())


def _lookup_value(key: str, value: str):
    """As the admin reads a lookup from a query string: a list for __in, a boolean for __isnull."""
    if key.endswith("__in"):
        return value.split(",")
    if key.endswith("__isnull"):
        return value.lower() not in ("", "false", "0")
    return value
