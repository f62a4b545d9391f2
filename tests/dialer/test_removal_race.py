"""A removal and an export of the same client never race: whoever must not be called any more while its batch waits
its turn, or is on the wire, is out of the campaign once everything has settled. Real HTTP to a slowed-down sandbox
3C Plus on loopback, several uploads in flight."""

import datetime
import json
import threading
from collections import Counter
from decimal import Decimal
from itertools import cycle

import pytest

from attendance import payments
from attendance.defaults import ensure_default_disposition_types
from attendance.models import DispositionType
from core.models import Client
from dialer import exports
from dialer.client import dial_number
from dialer.exports import sending, uploads
from dialer.models import DialerExport, DialerExportItem, DialerRemoval
from dialer.tenant_api import api_for
from tests.attendance.test_views import negotiate

CLIENTS = 80
MARKS = 16


@pytest.fixture
def slow_sandbox(sandbox, settings, monkeypatch):
    settings.DIALER_EXPORT_UPLOADS_IN_FLIGHT = 4
    sandbox.set_faults(latency_ms=40)
    # Each landed batch is recorded (and reported to `progress`) at once, the number in flight grows after each
    # batch, and the walk goes in several rounds: the marks below meet batches waiting their turn, a batch on the
    # wire and items the rule has not read again yet.
    monkeypatch.setattr(uploads, "PROGRESS_SECONDS", 0.01)
    monkeypatch.setattr(uploads, "RAMP_BATCHES", 1)
    monkeypatch.setattr(sending, "WALK_CHUNK", 25)
    return sandbox


class HoldingAPI:
    """The tenant's real API, except that one batch at a time is held on the wire (its POST not yet at 3C Plus, as
    on a slow network or between retries) until the test has marked some of its clients and let their removal run.
    Held only while another upload is in flight, whose landing gives the test its turn."""

    def __init__(self, api, wanted):
        self.api = api
        self.wanted = wanted  # how many batches to hold, at most
        self.lock = threading.Lock()
        self.posting = 0
        self.held: tuple[list[int], threading.Event] | None = None

    def __getattr__(self, name):
        return getattr(self.api, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.api.close()

    def add_mailing(self, campaign_id, list_id, batch):
        ids = sorted({int(item["identifier"]) for item in json.loads(batch.encode())})
        release = None
        with self.lock:
            self.posting += 1
            if self.wanted and self.held is None and self.posting > 1:
                self.wanted -= 1
                release = threading.Event()
                self.held = (ids, release)
        try:
            if release is not None:
                release.wait(timeout=10)
            return self.api.add_mailing(campaign_id, list_id, batch)
        finally:
            with self.lock:
                self.posting -= 1

    def take_held(self):
        with self.lock:
            held, self.held = self.held, None
            return held


def in_lists(sandbox) -> set[tuple[str, str]]:
    """Every (identifier, phone) in any list of the tenant's sandbox account."""
    return {(c["identifier"], c["phone"]) for contacts in sandbox.account("alfa").contacts.values() for c in contacts}


# Committed for real: each mark's removal is queued when it commits, as in production, and so is each removal the
# export makes after a batch landed.
@pytest.mark.django_db(transaction=True)
def test_what_is_marked_while_its_batch_waits_or_is_on_the_wire_leaves_the_campaign(
    dialer_tenant,
    campaign_id,
    slow_sandbox,
    make_client,
    creditor,
    operator,
    client,
    run_worker,
    monkeypatch,
):
    ensure_default_disposition_types(DispositionType)  # the flush of an earlier transactional test took them
    creditor.min_entry_percent = Decimal("0")
    creditor.save()
    numbers = [f"+55119{n:08d}" for n in range(2 * CLIENTS)]
    debtors = [  # every third with two phones, the first of which is marked "não ligar" when it is picked
        make_client(phones=numbers[2 * n : 2 * n + 1 + (n % 3 == 1)], debts=((Decimal("1200"), 40),))
        for n in range(CLIENTS)
    ]
    by_pk = {debtor.pk: debtor for debtor in debtors}
    client.force_login(operator)
    export = exports.create_export(
        dialer_tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False, batch_size=8
    )
    api = HoldingAPI(api_for(dialer_tenant), wanted=3)
    kinds = cycle(["cliente", "telefone", "acordo", "quitado"])
    marked: dict[int, str] = {}  # client id -> how it was marked
    marked_at: dict[int, str] = {}  # client id -> where its batch was when it was marked
    # Clients whose batch passed its last check (the run's own thread, like `while_uploading`): from then on the
    # batch is on the wire, whether or not its thread has reached the POST yet (a loaded machine may delay it).
    checked: set[int] = set()
    last_check = uploads._drop_stopped

    def recording_check(export, batch, batch_phones):
        batch, kept = last_check(export, batch, batch_phones)
        checked.update(kept)
        return batch, kept

    monkeypatch.setattr(uploads, "_drop_stopped", recording_check)

    def mark(debtor):
        kind = next(kinds)
        if kind == "telefone" and debtor.phones.count() < 2:
            kind = next(kinds)
        if kind == "telefone":
            phone = debtor.phones.order_by("priority").first()
            data = {"reason": "numero_errado", "phone": phone.pk}
            response = client.post(f"/atendimento/{debtor.pk}/nao-ligar/", data, HTTP_HX_REQUEST="true")
        elif kind == "cliente":
            data = {"reason": "pedido_devedor"}
            response = client.post(f"/atendimento/{debtor.pk}/nao-ligar/", data, HTTP_HX_REQUEST="true")
        elif kind == "acordo":
            response = negotiate(client, debtor, "acordo")
        else:
            debt = debtor.debts.get()
            paid = payments.PaymentInput(debt.original_amount, datetime.date.today(), "pix")
            payments.post_payment(dialer_tenant, operator, paid, debt=debt)
            response = None
        assert response is None or response.status_code == 200
        marked[debtor.pk] = kind

    def while_uploading(sent_total):
        """Called by the run each time batches landed: mark clients, and let the removal worker act at once, as a
        running worker would. A held batch is released once its clients' removals have run."""
        held = api.take_held()
        picks = []
        if len(marked) < MARKS:
            items = DialerExportItem.objects.filter(export=export).exclude(client_id__in=[*marked, *checked])
            waiting = items.filter(status=DialerExportItem.Status.SENDING).order_by("client_id")
            pending = items.filter(status=DialerExportItem.Status.PENDING).order_by("client_id")
            # A held batch may carry a client already marked while it waited its turn: each client is marked once.
            picks = [(pk, "no ar") for pk in ([pk for pk in held[0] if pk not in marked][:2] if held else [])]
            picks += [(pk, "na vez") for pk in waiting.values_list("client_id", flat=True)[:2]]
            picks += [(pk, "pendente") for pk in pending.values_list("client_id", flat=True)[:1]]
        for client_id, state in picks:
            mark(by_pk[client_id])
            marked_at[client_id] = state
        run_worker()
        if held is not None:
            held[1].set()

    export = exports.run_export(export.pk, api_factory=lambda tenant: api, progress=while_uploading)
    assert export.status == DialerExport.Status.DONE, export.error_summary
    run_worker()  # everything settles

    assert slow_sandbox.max_in_flight >= 2, "uploads overlapped"
    assert len(marked) >= MARKS and set(marked.values()) == {"cliente", "telefone", "acordo", "quitado"}
    states = Counter(marked_at.values())
    assert states["no ar"] >= 4 and states["na vez"] >= 4 and states["pendente"] >= 2, states
    present = in_lists(slow_sandbox)
    wrong = {}
    for debtor in debtors:
        dialled = [dial_number(p.number) for p in debtor.phones.order_by("priority")]
        kind = marked.get(debtor.pk)
        expected = dialled[1:] if kind == "telefone" else [] if kind else dialled
        found = [n for n in dialled if (str(debtor.pk), n) in present]
        if found != expected:
            wrong[debtor.pk] = (kind, found, expected)
    assert wrong == {}, f"{len(wrong)} de {len(debtors)} clientes fora do esperado (marca, na lista, esperado): {wrong}"
    assert not DialerRemoval.objects.exclude(status=DialerRemoval.Status.DONE).exists()
    reasons = {"cliente": "pedido_devedor", "telefone": "numero_errado", "acordo": "acordo", "quitado": "quitado"}
    for client_id, reason in DialerRemoval.objects.values_list("client_id", "reason"):
        assert reason == reasons[marked[client_id]]
    # Checked again just before its batch went, a client marked while the batch waited its turn was never posted.
    posted = {
        int(item["identifier"])
        for request in slow_sandbox.requests
        if request["method"] == "POST" and request["path"].endswith("/mailing.json")
        for item in request["body"]
    }
    assert not {pk for pk, state in marked_at.items() if state != "no ar" and marked[pk] != "telefone"} & posted
    assert export.sent_count == export.to_send_count
