"""The atendimento page costs the same whatever the size of the client's history.

Every kind of history the workspace shows (tabulações, calls, messages, agreements, payments, dialer sends and
removals, the access log) is read a page at a time: the number of queries is the same for a client with 3 rows
of each and for one with 300, and it is asserted, so a query added per row or per entry shows up here.
"""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from attendance.models import (
    Agreement,
    AgreementInstallment,
    CallDisposition,
    ClientAccessLog,
    DispositionType,
    Message,
    Payment,
)
from core import timeline
from dialer.models import DialerCallEvent, DialerExport, DialerExportItem, DialerRemoval

# The requests an operator makes on the page, with their query counts (session, user, membership, client and
# the page's reads; the tabulação adds its writes and savepoints, the simulation reuses the client's debts). "Pago"
# sums what was paid through agreements in one aggregate.
# The header reads the calling rule (the tenant's window per UF and municipal holidays): two small queries. The page
# reads no chat (messaging loads it by htmx); the timeline has one more source (channels the debtor blocked).
EXPECTED = {"page": 26, "more": 14, "tabulate": 34, "simulate": 25}


def fill_history(client, user, n):
    """n of each kind of history, one minute apart, newest first."""
    tenant, now = client.tenant, timezone.now()

    def at(i):
        return now - datetime.timedelta(minutes=i + 1)

    caixa = DispositionType.objects.get(tenant=None, behavior="caixa_postal")
    dispositions = CallDisposition.objects.bulk_create(
        CallDisposition(tenant=tenant, client=client, operator=user, type=caixa, notes=f"tentativa {i}")
        for i in range(n)
    )
    agreements = Agreement.objects.bulk_create(
        Agreement(
            tenant=tenant,
            client=client,
            creditor=client.creditor,
            operator=user,
            status=Agreement.Status.BROKEN,
            principal=Decimal("100"),
            total=Decimal("100"),
            installments_count=1,
            first_due_date=at(i).date(),
            closed_at=at(i),
            close_reason="Parcela vencida",
            decided_by=user,  # each one waited for an approval: the timeline shows the decision too
            decided_at=at(i),
        )
        for i in range(n)
    )
    AgreementInstallment.objects.bulk_create(
        AgreementInstallment(agreement=a, number=1, due_date=a.first_due_date, amount=a.total) for a in agreements
    )
    payments = Payment.objects.bulk_create(
        Payment(tenant=tenant, client=client, paid_on=at(i).date(), amount=Decimal("10"), created_by=user)
        for i in range(n)
    )
    accesses = ClientAccessLog.objects.bulk_create(
        ClientAccessLog(tenant=tenant, client=client, user=user) for _ in range(n)
    )
    exports = DialerExport.objects.bulk_create(
        DialerExport(tenant=tenant, campaign_id=1, list_name=f"Lista {i}", requested_by=user) for i in range(n)
    )
    DialerExportItem.objects.bulk_create(
        DialerExportItem(tenant=tenant, export=e, client=client, campaign_id=1, status="enviado", sent_at=at(i))
        for i, e in enumerate(exports)
    )
    removals = DialerRemoval.objects.bulk_create(
        DialerRemoval(tenant=tenant, client=client, campaign_id=1, status="removido", requested_by=user)
        for _ in range(n)
    )
    events = DialerCallEvent.objects.bulk_create(
        DialerCallEvent(tenant=tenant, client=client, event=event, call_id=f"{client.pk}-{i}", status="7")
        for i in range(n)
        for event in DialerCallEvent.Event.values
    )
    Message.objects.bulk_create(
        Message(tenant=tenant, client=client, direction="recebida", body=f"mensagem {i}", sent_at=at(i))
        for i in range(n)
    )
    # auto_now_add set "now" on every row: spread them back in time as a real history is.
    for rows, field in (
        (dispositions, "created_at"),
        (agreements, "created_at"),
        (payments, "created_at"),
        (accesses, "accessed_at"),
        (removals, "created_at"),
        (events, "received_at"),
    ):
        for i, row in enumerate(rows):
            setattr(row, field, at(i))
        type(rows[0]).objects.bulk_update(rows, [field])


def query_counts(http, client) -> dict:
    url = f"/atendimento/{client.pk}/"
    before = timeline.page(client)[0][-1].at.isoformat()
    due = (timezone.localdate() + datetime.timedelta(days=7)).isoformat()
    caixa = DispositionType.objects.get(tenant=None, behavior="caixa_postal")
    htmx = {"HTTP_HX_REQUEST": "true"}
    requests = {
        "page": lambda: http.get(url),
        "more": lambda: http.get(f"{url}historico/", {"before": before}),
        "tabulate": lambda: http.post(
            f"{url}tabular/", {"type": caixa.pk, "token": str(uuid.uuid4()), "notes": "ok"}, **htmx
        ),
        "simulate": lambda: http.post(
            f"{url}simular/",
            {"discount_percent": "0", "installments": "2", "entry": "0", "first_due_date": due, "token": uuid.uuid4()},
            **htmx,
        ),
    }
    counts = {}
    for name, request in requests.items():
        with CaptureQueriesContext(connection) as queries:
            response = request()
        assert response.status_code == 200, name
        counts[name] = len(queries)
    return counts


@pytest.mark.django_db
def test_the_page_runs_as_many_queries_for_a_long_history_as_for_a_short_one(client, operator, make_client):
    short, long_ = make_client(name="Histórico Curto"), make_client(name="Histórico Longo")
    fill_history(short, operator, 3)
    fill_history(long_, operator, 300)
    client.force_login(operator)

    assert query_counts(client, short) == EXPECTED
    assert query_counts(client, long_) == EXPECTED

    # Whether older messages exist comes from reading one more than the chat shows, not from counting them.
    notice = "Mostrando as mensagens mais recentes."
    assert notice in client.get(f"/mensagens/{long_.pk}/chat/").content.decode()
    assert notice not in client.get(f"/mensagens/{short.pk}/chat/").content.decode()
