"""The Carteira's paginator: honest counts and fast pages over a million clients."""

import json

from django.conf import settings
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import OperationalError, connections, transaction
from django.db.models import QuerySet
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext as _


def count_within(queryset, timeout_ms: int) -> int | None:
    """COUNT(*) of the queryset, or None when PostgreSQL would need more than `timeout_ms` for it."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or not timeout_ms:
        return queryset.count()
    from psycopg.errors import QueryCanceled

    if not connection.in_atomic_block:
        return _count_in_one_statement(connection, queryset, timeout_ms)
    try:
        with transaction.atomic(using=queryset.db):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                    [f"{int(timeout_ms)}ms"],
                )
                previous = cursor.fetchone()[0]
            total = queryset.count()
            # A local setting lasts until the caller's transaction ends: put the old one back.
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
            return total
    except OperationalError as error:
        if isinstance(error.__cause__, QueryCanceled):
            return None
        raise


def _count_in_one_statement(connection, queryset, timeout_ms: int) -> int | None:
    """Outside a transaction: the timeout and the count sent together (one round trip). PostgreSQL runs the
    statements of one simple query as one implicit transaction, which the local timeout does not outlive."""
    from psycopg.errors import QueryCanceled

    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    counting = connection.ops.compose_sql(f"SELECT COUNT(*) FROM ({sql}) AS counted", params)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}; {counting}")
            cursor.nextset()
            return cursor.fetchone()[0]
    except OperationalError as error:
        if isinstance(error.__cause__, QueryCanceled):
            return None
        raise


def count_cost(queryset) -> float | None:
    """The planner's cost for counting the queryset's rows (PostgreSQL), or None where there is none."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT COUNT(*) FROM ({sql}) AS counted", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return plan[0]["Plan"]["Total Cost"]


class WalletPage(Page):
    def __init__(self, object_list, number, paginator, has_more=None):
        super().__init__(object_list, number, paginator)
        self.has_more = has_more

    def has_next(self):
        return super().has_next() if self.has_more is None else self.has_more


class WalletPaginator(Paginator):
    """Counts exactly whenever that is cheap, says "mais de N" when it is not, and reads deep pages fast.

    - The planner prices the count first (EXPLAIN, no rows read). A full COUNT(*) is run when it says it is
      cheap, within `count_timeout_ms`; most filters count from an index within that. Otherwise a COUNT over
      a LIMIT exact_limit + 1 subquery (WALLET_EXACT_COUNT_LIMIT) stops reading at the limit: exact below it;
      above it the count is only known to be above the limit and is shown as "mais de N": no number is made
      up (the planner's row estimate is per column and can be several times off for a combination of
      filters, so it is not shown). The page links then stop at the pages known to exist.
    - A page past the known count is served when it has rows and refused when it has none (the admin
      then redirects), so no page link points past the end and no real page is refused.
    - A deep page skips rows on a subquery of primary keys (an index-only scan where the ordering's
      index covers the filters) instead of reading whole rows and their joins, and past the middle of
      an exactly counted list it is read backwards from the end.
    """

    template_name = "admin/core/client/pagination_numbers.html"
    # A full count is tried when the planner prices it below count_cost_limit (at a million clients: the
    # whole wallet about 17,000, a filter matching nearly all of it without an index about 40,000) and is
    # abandoned after count_timeout_ms whatever the price said.
    count_cost_limit = 25_000
    count_timeout_ms = 200
    deep_offset = 1_000  # from this offset on, rows are skipped on their primary keys

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, **kwargs):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, **kwargs)
        self.exact_limit = settings.WALLET_EXACT_COUNT_LIMIT
        self.count_is_exact = True
        self._more_after = {}  # page number -> whether rows follow it (pages read with an inexact count)

    @cached_property
    def count(self):
        """On PostgreSQL the planner's price, then one count: a cheap one exactly under the statement timeout, an
        expensive one (or one that ran out of time) only up to the exact limit ("mais de N" above it)."""
        if not isinstance(self.object_list, QuerySet):
            return len(self.object_list)
        queryset = self.object_list.order_by()
        cost = count_cost(queryset)
        if cost is not None and cost <= self.count_cost_limit:
            total = count_within(queryset, self.count_timeout_ms)
            if total is not None:
                return total
        capped = queryset[: self.exact_limit + 1].count()
        if capped <= self.exact_limit:
            return capped
        if cost is None:  # no planner to ask (SQLite): count, as the page always did there
            total = count_within(queryset, self.count_timeout_ms)
            if total is not None:
                return total
        self.count_is_exact = False
        return capped

    @property
    def count_label(self) -> str:
        """The count as the page shows it: exact, or "mais de N" when only a lower bound is known."""
        if self.count_is_exact:
            return number_format(self.count, force_grouping=True)
        return _("mais de %(count)s") % {"count": number_format(self.exact_limit, force_grouping=True)}

    def validate_number(self, number):
        self.count  # noqa: B018 -- counting decides whether the count is exact
        if self.count_is_exact:
            return super().validate_number(number)
        return self._validate_number(number, float("inf"))  # an integer >= 1; page() checks that rows exist

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if self.count_is_exact:
            top = bottom + self.per_page
            if top + self.orphans >= self.count:
                top = self.count
            return self._get_page(self._rows(bottom, top), number, self)
        rows = list(self._rows(bottom, bottom + self.per_page + 1))  # one more row tells whether a next page exists
        if not rows and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        has_more = len(rows) > self.per_page
        self._more_after[number] = has_more
        if not has_more:  # the last page: now the count is known exactly
            self._learn_count(bottom + len(rows))
        return WalletPage(rows[: self.per_page], number, self, has_more=has_more)

    def _learn_count(self, count):
        self.__dict__["count"] = count
        self.__dict__.pop("num_pages", None)
        self.count_is_exact = True

    def _rows(self, bottom, top):
        queryset = self.object_list
        if bottom < self.deep_offset or not isinstance(queryset, QuerySet):
            return queryset[bottom:top]
        if self.count_is_exact and bottom > self.count // 2 and queryset.ordered:
            # Past the middle, the page is nearer the end: skip from there on the reversed ordering.
            size = top - bottom
            rows = list(self._by_keys(queryset.reverse(), self.count - top, self.count - top + size))
            rows.reverse()
            return rows
        return list(self._by_keys(queryset, bottom, top))

    @staticmethod
    def _by_keys(queryset, bottom, top):
        """The rows at [bottom:top], the skipping done on primary keys only, the page's rows read by key."""
        return queryset.filter(pk__in=queryset.values("pk")[bottom:top])

    def get_elided_page_range(self, number=1, *, on_each_side=3, on_ends=2):
        if self.count_is_exact:
            yield from super().get_elided_page_range(number, on_each_side=on_each_side, on_ends=on_ends)
            return
        number = self.validate_number(number)
        known_last = max(self.num_pages, number + 1 if self._more_after.get(number) else number)
        pages = sorted(
            {*range(1, min(on_ends, known_last) + 1)}
            | {*range(max(1, number - on_each_side), min(known_last, number + on_each_side) + 1)}
        )
        previous = 0
        for page in pages:
            if page > previous + 1:
                yield self.ELLIPSIS
            yield page
            previous = page
        yield self.ELLIPSIS  # more pages follow; how many is not known
