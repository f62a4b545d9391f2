import datetime
import json
import logging
import random
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from attendance import presence, receipts, selectors, services
from attendance.forms import NegotiationForm, TabulationForm
from attendance.models import Agreement, CallDisposition, ClientAccessLog, DispositionType
from attendance.negotiation import NegotiationError
from common import async_db
from common.call_ids import call_id_or_blank
from common.parsing import parse_id, parse_int
from core import services as core_services
from core import timeline
from core.models import Client, ClientPhone, Debt, DoNotCallReason
from core.selectors import search_clients
from dialer import live, recordings, rule_text
from dialer import selectors as dialer_selectors
from dialer.errors import DialerError
from tenants import two_factor
from tenants.roles import is_back_office, user_tenant

logger = logging.getLogger(__name__)


def workspace_context(request, **extra):
    """The admin site's context (colours, titles) so the workspace looks like the admin."""
    return {**admin.site.each_context(request), **extra}


def tenant_or_404(request):
    tenant = user_tenant(request.user)
    if tenant is None:
        raise Http404(_("Seu usuário não está vinculado a uma empresa."))
    return tenant


def client_or_404(request, client_id) -> tuple:
    """The client, only within the user's tenant: another tenant's client is a 404, never a 403."""
    tenant = tenant_or_404(request)
    client = get_object_or_404(Client.objects.for_tenant(tenant).select_related("creditor"), pk=client_id)
    return tenant, client


def call_id_of(request) -> str:
    """The call the page was opened for: a 3C Plus call id, or "" for anything else (any site can make a signed-in
    browser GET this page, and the id goes into the access log and the forms)."""
    return call_id_or_blank(request.POST.get("call_id") or request.GET.get("call_id") or "")


@login_required
@require_GET
def home(request):
    """The operator's console: waiting for a call, client search, pending callbacks and their clients."""
    tenant = user_tenant(request.user)
    clients, callbacks, found, decisions = Client.objects.none(), [], [], []
    q = request.GET.get("q", "").strip()[:100]
    if tenant:
        clients = (
            Client.objects.for_tenant(tenant)
            .filter(assigned_operator=request.user)
            .select_related("creditor")
            .order_by("name")[:100]
        )
        callbacks = list(services.pending_callbacks(tenant, request.user)[:50])
        decisions = selectors.recent_decisions(tenant, request.user)
        if q:
            found = search_clients(tenant, q)
    call_id = call_id_of(request)
    # Searching for the client of a call from an unknown number: its banner stays up while the operator searches.
    on_line = dialer_selectors.call_on_line(tenant, call_id) if tenant and call_id else None
    return render(
        request,
        "attendance/home.html",
        workspace_context(
            request,
            clients=clients,
            tenant=tenant,
            callbacks=callbacks,
            decisions=decisions,
            now=timezone.now(),
            agent_id=agent_id_of(request) if tenant else "",
            call_stream_url=call_stream_url(request),
            q=q,
            found=found,
            call_id=call_id,
            on_line=on_line,
        ),
    )


def agent_id_of(request) -> str:
    return getattr(request.membership, "threecplus_agent_id", "") or ""


# The ids the console sends back (`depois`, Last-Event-ID): ASCII digits that fit a bigint, anything else ignored.


def seen_call(value: str) -> int | None:
    """The last call id a console saw, or None when it sent none or something that is not one."""
    number = parse_int(value) if value == value.strip() else None  # the console sends the id as it got it
    return number if number is not None and number >= 0 else None


@login_required
@require_GET
def next_call(request):
    """Short polling from the console: the next call connected to this operator after `depois` (the oldest not
    yet seen, so each call of a burst is offered in turn).

    The console's fallback when the call stream (call_stream) is not served: on any WSGI server, or SQLite.
    """
    tenant = user_tenant(request.user)
    agent_id = agent_id_of(request) if tenant else ""
    if not agent_id:
        return JsonResponse({"chamada": None, "ultimo": 0})
    services.note_console_poll(request.membership)
    after = seen_call(request.GET.get("depois", ""))
    if after is None:  # the console's first poll: only calls from now on
        return JsonResponse({"chamada": None, "ultimo": dialer_selectors.last_connected_call(tenant, agent_id)})
    connected = dialer_selectors.next_connected_call(tenant, agent_id, after)
    if connected is None:
        return JsonResponse({"chamada": None, "ultimo": after})
    return JsonResponse(call_answer(connected))


def call_answer(connected) -> dict:
    call = {"telefone": connected.phone, "id": connected.call_id}
    if connected.client is not None:
        call["url"] = f"{reverse('attendance:client', args=[connected.client.pk])}?call_id={quote(connected.call_id)}"
        call["cliente"] = connected.client.name
    return {"chamada": call, "ultimo": connected.id}


def call_stream_url(request) -> str:
    """The console's stream, when this server can hold it open cheaply: ASGI and the dialer's pushed wake-ups."""
    if settings.ATTENDANCE_CALL_STREAM and isinstance(request, ASGIRequest) and live.available():
        return reverse("attendance:call_stream")
    return ""


# A comment line on an idle stream: proxies keep it open. 30 s stays under the common idle timeouts (60 s: nginx's
# default, cloud load balancers) and halves the wake-ups of 15 s, which at 10,000 waiting consoles were most of a
# process's idle CPU. A client that goes away is noticed by its closed connection, not by this.
HEARTBEAT_SECONDS = 30
RETRY_DELAYS = (0.5, 1, 2, 5)  # seconds between reads while the database is away, then 5 s
# The database restarting, crashed or out of reach (the pool timing out): not a bug, so retried, not a 500.
DATABASE_AWAY = (OperationalError, InterfaceError)
OUTAGE_RETRY_AFTER = "5"  # seconds, for a stream refused while the database is away


@require_GET
async def call_stream(request):
    """Server-sent events from the console: the calls connected to this operator's agent, as they connect.

    `depois` (or, on a reconnection, the Last-Event-ID the browser sends) is the last call seen: every call
    connected since is sent first, oldest first (the dialer's next_connected_call bounds how far back); without it
    only calls from now on count. Each event's id is the call's, so a reconnection misses none. While waiting
    the stream costs a socket: a webhook's NOTIFY wakes it (dialer.live), and presence checks every few seconds
    that its access still holds. The same stream carries the WhatsApp notes ("mensagem", no id) of the clients
    its user may see in its tenant (dialer.live.Audience; `cliente`: the client whose page holds the stream).
    204 when this server cannot stream (WSGI, SQLite, no agent ID): the browser's EventSource then stops and the
    console polls next_call; 503 while the database is away, which the console
    retries. Signed in as with login_required, but the session is read on a database thread (common.async_db),
    not the request's.
    """
    try:
        if isinstance(request, ASGIRequest):
            start = await async_db.run(_stream_start, request)
        else:  # WSGI, where this is a refusal: the request's own thread reads the session, as for any view
            start = await sync_to_async(_stream_start)(request)
    except DATABASE_AWAY:
        logger.warning("Stream de ligações recusado: banco de dados indisponível", exc_info=True)
        return HttpResponse(status=503, headers={"Retry-After": OUTAGE_RETRY_AFTER})
    if start is LOGIN:
        return redirect_to_login(request.get_full_path())
    if start is None:
        return HttpResponse(status=204)
    response = StreamingHttpResponse(_call_events(*start), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


LOGIN = object()


def _stream_start(request):
    """(tenant, access, the last call seen, whose message notes it gets), on a database thread; None: no stream
    here; LOGIN: nobody signed in. Without a last call seen (a new console) it is the newest call so far: only
    calls from now on count."""
    if not request.user.is_authenticated or two_factor.pending_step(request.user, request.session) is not None:
        return LOGIN  # TwoFactorMiddleware leaves this view to check the code the session may still owe
    if not call_stream_url(request):
        return None
    tenant = user_tenant(request.user)
    agent_id = agent_id_of(request) if tenant else ""
    if not agent_id:
        return None
    after = seen_call(request.headers.get("Last-Event-ID", "")[:100])
    if after is None:
        after = seen_call(request.GET.get("depois", "")[:100])
    if after is None:
        after = dialer_selectors.last_connected_call(tenant, agent_id)
    audience = live.Audience(
        tenant_id=tenant.pk,
        user_id=request.user.pk,
        sees_all=is_back_office(request.user),
        client_id=open_client(request, tenant),
    )
    access = presence.Access(
        session_key=request.session.session_key or "",
        password=request.user.password,
        user_id=request.user.pk,
        membership_id=request.membership.pk,
        tenant_id=tenant.pk,
        agent_id=agent_id,
    )
    return tenant, access, after, audience


def open_client(request, tenant) -> int | None:
    """The client whose page holds the stream (`cliente`), when it is one of the tenant's: its chat's notes reach
    the stream even when the client is not assigned to the user, as the page itself shows them."""
    client_id = parse_id(request.GET.get("cliente", "")[:30])
    if client_id is None or not Client.objects.for_tenant(tenant).filter(pk=client_id).exists():
        return None
    return client_id


def _next_call(tenant, access: presence.Access, after: int):
    """The next call after `after`, or None; REVOKED when there is one but the access no longer holds: a call
    connected to an agent ID just moved to someone else reaches its new holder only, even between two rounds."""
    connected = dialer_selectors.next_connected_call(tenant, access.agent_id, after)
    if connected is not None and not presence.allowed(access):
        return presence.REVOKED
    return connected


def _sse(event: str, answer: dict) -> str:
    return f"id: {answer['ultimo']}\nevent: {event}\ndata: {json.dumps(answer)}\n\n"


def _note(note: dict) -> str:
    # No id: the stream's Last-Event-ID stays the last call's, which is what a reconnection resumes from.
    return f"event: mensagem\ndata: {json.dumps(note)}\n\n"


async def _call_events(tenant, access: presence.Access, after: int, audience: live.Audience):
    # Waiting (and counted as waiting) before the first read: a call connecting from then on wakes the waiter.
    with (
        live.waiter(tenant.pk, access.agent_id, audience) as waiter,
        presence.waiting(access, on_end=waiter.wake) as seat,
    ):
        # Reconnect within 1 to 5 s: after a restart the consoles come back spread out, not all at once.
        yield f"retry: {random.randint(1000, 5000)}\n\n"
        yield _sse("pronto", {"chamada": None, "ultimo": after})
        unread, failures = True, 0  # calls may have connected while a resumed stream was away
        while True:
            if seat.ended:  # revoked, signed out, or replaced: no call reaches this stream any more
                yield _sse(seat.ended, {"chamada": None, "ultimo": after})
                return
            for note in waiter.take_notes():  # a WhatsApp message arrived or changed, for the chat and the counts
                yield _note(note)
            if unread:
                try:
                    connected = await async_db.run(_next_call, tenant, access, after)
                except DATABASE_AWAY as error:  # the database is away: the stream stays, and reads again
                    delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                    failures += 1
                    logger.warning("Stream de ligações sem banco de dados (%s); nova leitura em %ss", error, delay)
                    yield ": aguardando\n\n"
                    await waiter.wait(delay)
                    continue
                failures = 0
                if connected is presence.REVOKED:
                    seat.end(presence.REVOKED)
                    continue
                if connected is not None:  # sent, then the next one read at once: a burst arrives whole
                    after = connected.id
                    yield _sse("chamada", call_answer(connected))
                    continue
            woken = await waiter.wait(HEARTBEAT_SECONDS)
            unread = waiter.take_calls()
            if not woken:
                yield ": aguardando\n\n"


@login_required
@require_GET
def callbacks(request):
    tenant = tenant_or_404(request)
    due = list(services.pending_callbacks(tenant, request.user)[:200])
    return render(request, "attendance/callbacks.html", workspace_context(request, callbacks=due, now=timezone.now()))


def client_debts(client) -> list[Debt]:
    return list(client.debts.order_by("due_date", "installment_number"))


def page_context(
    request, tenant, client, *, tabulation_form=None, negotiation_form=None, simulation=None, debts=None, types=None
):
    """Everything the workspace shows. Its reads are bounded whatever the client's history: the timeline and
    the chat (loaded by htmx from messaging) read their newest rows through an index, and nothing counts the whole
    history."""
    phones = list(client.phones.all())
    debts = client_debts(client) if debts is None else debts
    types = list(DispositionType.available_to(tenant)) if types is None else types
    open_agreement = (
        Agreement.objects.filter(client=client, status__in=Agreement.OPEN_STATUSES).order_by("-created_at").first()
    )
    entries, has_more = timeline.page(client)
    call_id = call_id_of(request)
    panel = selectors.agreement_panel(tenant, client, open_agreement)
    on_line = dialer_selectors.call_on_line(tenant, call_id) if call_id else None
    tabulation_form = tabulation_form or TabulationForm(
        tenant=tenant, client=client, phones=phones, types=types, initial={"call_id": call_id}
    )
    return workspace_context(
        request,
        client=client,
        phones=phones,
        debts=debts,
        figures=figures(client, debts, open_agreement, panel["agreement_installments"]),
        open_agreement=open_agreement,
        **panel,
        do_not_call_reasons=DoNotCallReason.choices,
        tabulation_types=[t for t in types if t.behavior != DispositionType.Behavior.NEGOTIATE],
        negotiate_type=next((t for t in types if t.behavior == DispositionType.Behavior.NEGOTIATE), None),
        tabulation_form=tabulation_form,
        tabulation_kind=chosen_behavior(tabulation_form, types),
        negotiation_form=negotiation_form or NegotiationForm(initial={"call_id": call_id}),
        presets=[n for n in PRESET_PAYMENTS if n <= client.creditor.max_installments],
        simulation=simulation,
        entries=entries,
        has_more=has_more,
        call_id=call_id,
        # The call's tabulação once recorded: the form then changes it ("Alterar") instead of adding a second.
        call_disposition=services.call_disposition(tenant, client, call_id),
        on_line=on_line,
        call_stream_url=call_stream_url(request),
        callbacks_today=services.callbacks_due(tenant, request.user).count(),
        calling_rule=rule_text.client_rule(client, tenant),
    )


PRESET_PAYMENTS = (3, 6, 12)  # the simulator's shortcuts besides "à vista", up to the creditor's maximum


def chosen_behavior(form, types) -> str:
    """The tabulação picked in a form coming back with errors: its fields (phone, date) stay open."""
    if not form.is_bound:
        return ""
    chosen = str(form["type"].value() or "")
    return next((t.behavior for t in types if str(t.pk) == chosen), "")


def figures(client, debts, open_agreement=None, agreement_installments=()):
    open_debts = [d for d in debts if d.status == Debt.Status.OPEN]
    active = open_agreement is not None and open_agreement.status == Agreement.Status.ACTIVE
    return {
        "open": client.open_balance,
        "paid": selectors.paid_total(client, debts),
        # What the active agreement's installments still owe: its títulos leave "em aberto", which would read 0
        # while the client owes the whole agreement.
        "in_agreement": sum((row["installment"].open_amount for row in agreement_installments), 0) if active else 0,
        "paid_count": sum(1 for d in debts if d.status == Debt.Status.PAID),
        "total_count": len(debts),
        "days_overdue": client.days_overdue if open_debts else 0,
    }


@login_required
@require_GET
def client_page(request, client_id):
    tenant, client = client_or_404(request, client_id)
    services.log_access(tenant, request.user, client, call_id_of(request))
    return render(request, "attendance/client.html", page_context(request, tenant, client))


def render_after_change(request, tenant, client, **known):
    """htmx gets the parts that changed (header, forms, timeline); a plain form post gets the page again."""
    if not request.htmx:
        return redirect(f"{reverse('attendance:client', args=[client.pk])}?call_id={quote(call_id_of(request))}")
    client.refresh_from_db(from_queryset=Client.objects.select_related("creditor"))
    context = page_context(request, tenant, client, **known)
    response = render(request, "attendance/_after_change.html", context)
    response["HX-Reswap"] = "none"  # everything arrives out of band
    return response


def partial(request, template, context, target):
    """A part re-rendered in place (a form with its errors); the last success message goes away."""
    response = render(request, "attendance/_form_errors.html", {**context, "part": template})
    response["HX-Retarget"] = target
    response["HX-Reswap"] = "innerHTML"
    return response


@login_required
@require_POST
def tabulate(request, client_id):
    tenant, client = client_or_404(request, client_id)

    def record(data):
        _disposition, created = services.record_disposition(
            tenant,
            request.user,
            client,
            data["type"],
            notes=data["notes"],
            phone=data["phone"],
            call_id=data["call_id"],
            callback_at=data["callback_at"],
            token=data["token"],
        )
        return _("Tabulação registrada: %(t)s.") % {"t": data["type"].name} if created else None

    return submit_tabulation(request, tenant, client, record)


def submit_tabulation(request, tenant, client, save):
    """The tabulação form posted: `save(cleaned_data)` records it and returns the success message (None for a
    repeated submission); a refusal (ValidationError) shows the form again with what was typed."""
    types = list(DispositionType.available_to(tenant))
    form = TabulationForm(request.POST, tenant=tenant, client=client, phones=list(client.phones.all()), types=types)
    if form.is_valid():
        try:
            message = save(form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            if message:
                messages.success(request, message)
            return render_after_change(request, tenant, client, types=types)
    return tabulation_refused(request, tenant, client, form, types)


def tabulation_refused(request, tenant, client, form, types):
    """The tabulação form again with its errors and what was typed (the whole page without htmx)."""
    context = page_context(request, tenant, client, tabulation_form=form, types=types)
    if not request.htmx:
        return render(request, "attendance/client.html", context)
    return partial(request, "attendance/_tabulation.html", context, "#tabulation")


def add_errors(form, error: ValidationError):
    pairs = error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]
    for field, errors in pairs:
        for message in errors:
            form.add_error(field if field in form.fields else None, message)


@login_required
@require_POST
def change_tabulation(request, client_id, disposition_id):
    """Alterar: the tabulação of a call already tabulated becomes the one chosen now."""
    tenant, client = client_or_404(request, client_id)
    disposition = get_object_or_404(CallDisposition, pk=disposition_id, tenant=tenant, client=client)

    def change(data):
        services.change_disposition(
            tenant,
            request.user,
            disposition,
            data["type"],
            notes=data["notes"],
            phone=data["phone"],
            callback_at=data["callback_at"],
        )
        return _("Tabulação da ligação alterada para %(t)s.") % {"t": data["type"].name}

    return submit_tabulation(request, tenant, client, change)


@login_required
@require_POST
def mark_phone_wrong(request, client_id, phone_id):
    tenant, client = client_or_404(request, client_id)
    phone = get_object_or_404(ClientPhone, pk=phone_id, client=client)
    if phone.active:
        services.record_disposition(
            tenant,
            request.user,
            client,
            services.disposition_type(tenant, DispositionType.Behavior.WRONG_CONTACT),
            phone=phone,
            call_id=call_id_of(request),
            notes=_("Número errado"),
            one_per_call=False,  # a second wrong number in the same call is marked all the same
        )
        messages.success(request, _("Telefone %(p)s desativado como contato incorreto.") % {"p": phone.formatted})
    return render_after_change(request, tenant, client)


@login_required
@require_POST
def do_not_call(request, client_id):
    """ "Não ligar" for the client, or for one of its phones when `phone` is given."""
    tenant, client = client_or_404(request, client_id)
    reason = request.POST.get("reason", "")
    if reason not in DoNotCallReason.values:
        messages.error(request, _("Escolha o motivo do “não ligar”."))
        return render_after_change(request, tenant, client)
    label = DoNotCallReason(reason).label
    if request.POST.get("phone"):
        phone = get_object_or_404(ClientPhone, pk=parse_id(request.POST["phone"]) or 0, client=client)
        core_services.set_phone_do_not_call(phone, reason, request.user)
        messages.success(request, _("Não ligar para %(p)s (%(r)s).") % {"p": phone.formatted, "r": label})
    else:
        core_services.set_do_not_call(client, reason, request.user)
        messages.success(request, _("Cliente marcado como “não ligar” (%(r)s).") % {"r": label})
    return render_after_change(request, tenant, client)


@login_required
@require_POST
def simulate(request, client_id):
    tenant, client = client_or_404(request, client_id)
    form = NegotiationForm(request.POST)
    debts = client_debts(client)
    context = page_context(request, tenant, client, negotiation_form=form, debts=debts)
    # A simulation that arrives after "Gerar acordo" shows the agreement (the panel says so), never "no títulos
    # em aberto" over it.
    if context["open_agreement"] is None and form.is_valid():
        try:
            open_debts = [d for d in debts if d.status == Debt.Status.OPEN]
            context["simulation"] = services.simulate_for(client, form.proposal(), open_debts)
        except NegotiationError as error:
            form.add_error(None, str(error))
        else:
            if form.cleaned_data["fill_entry"]:
                context["negotiation_form"] = form.with_simulated_entry(context["simulation"])
    return render(request, "attendance/_negotiation.html", context)


@login_required
@require_POST
def create_agreement(request, client_id):
    tenant, client = client_or_404(request, client_id)
    form = NegotiationForm(request.POST)
    simulation = None
    if form.is_valid():
        try:
            agreement = services.create_agreement(
                tenant,
                request.user,
                client,
                form.proposal(),
                call_id=form.cleaned_data["call_id"],
                token=form.cleaned_data["token"],
                notes=form.cleaned_data["notes"],
                justification=form.cleaned_data["justification"],
            )
        except ValidationError as error:
            if "justification" in getattr(error, "error_dict", {}):
                form.add_error("justification", error.error_dict["justification"])
                # The panel again as simulated, the field and its message beside the rules the proposal breaks.
                simulation = services.simulate_for(client, form.proposal())
            else:
                form.add_error(None, error.messages[0])
        except NegotiationError as error:
            form.add_error(None, str(error))
        else:
            if agreement.status == Agreement.Status.ACTIVE:
                messages.success(request, _("Acordo #%(id)s gerado e ativo.") % {"id": agreement.pk})
            else:
                messages.warning(
                    request,
                    _("Acordo #%(id)s fora das regras do credor: aguardando aprovação do supervisor.")
                    % {"id": agreement.pk},
                )
            return render_after_change(request, tenant, client)
    context = page_context(request, tenant, client, negotiation_form=form, simulation=simulation)
    if not request.htmx:
        return render(request, "attendance/client.html", context)
    return partial(request, "attendance/_negotiation.html", context, "#negotiation")


@login_required
@require_GET
def timeline_more(request, client_id):
    _tenant, client = client_or_404(request, client_id)
    try:
        before = parse_datetime(request.GET.get("before", ""))
        if before is not None:
            if timezone.is_naive(before):
                before = timezone.make_aware(before, datetime.UTC)
            # In UTC, as the database compares it: 9999-12-31T20:00-10:00 lies past the last representable year.
            before = before.astimezone(datetime.UTC)
    except (ValueError, OverflowError):  # well formed but not a date (2026-13-45T00:00), or out of range
        before = None
    if before is None:
        return HttpResponse(_("Parâmetro before inválido: use uma data e hora ISO."), status=400)
    entries, has_more = timeline.page(client, before=before)
    return render(
        request, "attendance/_timeline_items.html", {"client": client, "entries": entries, "has_more": has_more}
    )


@login_required
@require_GET
def termo_de_quitacao(request, client_id, agreement_id):
    """The debtor's termo de quitação of a quitado agreement (PDF); anything else, or another tenant's: 404."""
    tenant, client = client_or_404(request, client_id)
    agreement = get_object_or_404(
        Agreement.objects.select_related("client", "creditor", "tenant"),
        pk=agreement_id,
        tenant=tenant,
        client=client,
        status=Agreement.Status.COMPLETED,
    )
    response = HttpResponse(receipts.termo_de_quitacao(agreement), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="termo-de-quitacao-acordo-{agreement.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def call_recording(request, client_id, call):
    """One of the client's call recordings, streamed from the dialer for the page's <audio> player (byte ranges, so
    it can seek). Logged like opening the page; logged out, another tenant's client, or no recording: 404."""
    if not request.user.is_authenticated:
        raise Http404
    tenant, client = client_or_404(request, client_id)
    try:
        recording = recordings.call_recording(tenant, client, call, request.headers.get("Range", ""))
    except DialerError as error:
        return HttpResponse(error.message, status=502, content_type="text/plain; charset=utf-8")
    if recording is None:
        raise Http404(_("Gravação não encontrada."))
    services.log_access(tenant, request.user, client, recording.call_id, kind=ClientAccessLog.Kind.RECORDING)
    # Autocommit: the log is written; nothing of the database is held while the bytes go.
    chunks = _async_chunks(recording.chunks) if isinstance(request, ASGIRequest) else recording.chunks
    response = StreamingHttpResponse(chunks, status=recording.status)
    for name, value in recording.headers.items():
        response[name] = value
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


async def _async_chunks(chunks):
    """Under uvicorn Django would read a plain iterator whole into memory before sending a byte: the recording is
    read a chunk at a time on a worker thread instead, and closed when the player goes away."""
    iterator = iter(chunks)
    done = object()
    read = sync_to_async(next, thread_sensitive=False)
    try:
        while (chunk := await read(iterator, done)) is not done:
            yield chunk
    finally:
        await sync_to_async(iterator.close, thread_sensitive=False)()
