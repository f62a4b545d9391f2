"""Reconciliation that cannot be poisoned: 3C Plus answering GET /calls (and the other endpoints) with hostile
values, through real HTTP on loopback. Each bad report is recorded and skipped, the calls after it are still
reconciled, and what went wrong is visible on the tenant's page and in /healthz."""

import datetime
import json
import math

import pytest
from django.utils import timezone
from freezegun import freeze_time

from attendance.models import CallDisposition
from common.parsing import EARLIEST_DATE, LATEST_DATE
from dialer import exports, qualifications, tenant_api
from dialer.calls import bounded_report, reconcile_calls
from dialer.client import RetryPolicy
from dialer.errors import MalformedResponseError
from dialer.models import CallSync, DialerCallEvent, DialerExport
from tenants.settings_schema import clean_settings
from tests.dialer import tampering
from tests.dialer.conftest import TOKEN
from tests.dialer.test_reconciliation import call_without_webhooks

CAMPAIGN_KEY = "threecplus_campaign_id"


@pytest.fixture
def tampered(sandbox):
    tampered, server = tampering.serve(sandbox)
    yield tampered
    server.stop()


@pytest.fixture
def tampered_tenant(dialer_tenant, tampered):
    """The tenant's 3C Plus is the sandbox seen through the tampering server."""
    dialer_tenant.settings = clean_settings({"threecplus_base_url": tampered.url, "threecplus_api_key": TOKEN})
    dialer_tenant.save()
    return dialer_tenant


def with_default_campaign(tenant, sandbox, index=0):
    campaigns = [c["id"] for c in sandbox.account("alfa").campaigns.values() if not c["paused"]]
    tenant.settings = {**tenant.settings, CAMPAIGN_KEY: campaigns[index]}
    tenant.save()
    return campaigns[index]


def calls_answer(before=(), after=()):
    """GET /calls as the sandbox answered it, with these reports around its own."""

    def rewrite(status, headers, payload, query):
        body = json.loads(payload)
        if status == 200:
            body["data"] = [*before, *body["data"], *after]
        return tampering.answer(status, body, {k: v for k, v in headers.items() if k != "Content-Type"})

    return rewrite


def hostile_reports(good: dict) -> tuple[list, int]:
    """Copies of a real report made hostile, and how many of them must be skipped as bad."""
    plain = {k: v for k, v in good.items() if k != "qualification"}
    stored = [
        {**plain, "id": "h-9999", "call_date": "9999-12-31 23:59:59", "call_date_rfc3339": "9999-12-31T23:59:59-03:00"},
        {**plain, "id": "h-0001", "call_date": "0001-01-01 00:00:00", "call_date_rfc3339": "0001-01-01T00:00:00+14:00"},
        {**plain, "id": "h-naive", "call_date_rfc3339": "2026-12-07T09:00:00"},  # beside aware ones
        {**plain, "id": "h-nul", "agent": "Agente\x00 1001", "number": good["number"] + "\x00", "list": "\x00"},
        {**plain, "id": "h-nan", "speaking_time": math.nan, "campaign_id": math.inf, "behavior": 10**30},
    ]
    bad = [
        {**plain, "id": "h-list", "qualification": [1, 2]},
        {**plain, "id": "h-object", "qualification": {"id": {"nested": 1}, "name": "Negociar"}},
        {**plain, "id": "h-float", "qualification": 2.5},
        "não é um relatório",
        {**plain, "id": None},
    ]
    return stored + bad, len(bad)


def test_hostile_reports_are_skipped_and_recorded_and_later_calls_still_reconciled(
    tampered, tampered_tenant, sandbox, make_client, operator, tenant_admin, client
):
    qualifications.sync_qualifications(tampered_tenant)
    debtor = make_client(name="Depois dos hostis", assigned_operator=operator)
    connected_id = call_without_webhooks(tampered_tenant, sandbox, debtor, qualification="Negociar")
    call_id = sandbox.account("alfa").calls[connected_id]["history_id"]  # every webhook lost: the report's id
    good = next(iter(sandbox.account("alfa").calls.values()))["report"]
    hostile, bad = hostile_reports(good)
    tampered.rewrite("GET", "/calls", calls_answer(before=hostile))  # the good report comes last

    assert reconcile_calls(tampered_tenant) == len(hostile) - bad + 1
    stored = set(DialerCallEvent.objects.values_list("call_id", flat=True))
    assert stored == {call_id, "h-9999", "h-0001", "h-naive", "h-nul", "h-nan"}
    disposition = CallDisposition.objects.get(client=debtor)
    assert disposition.call_id == call_id and disposition.type.behavior == "negociar"
    for event in DialerCallEvent.objects.all():
        assert EARLIEST_DATE <= event.received_at.date() <= LATEST_DATE, event.call_id
        assert "\x00" not in json.dumps(event.raw) and "NaN" not in json.dumps(event.raw)
    naive = DialerCallEvent.objects.get(call_id="h-naive").received_at
    assert naive == datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC), "09:00 in São Paulo"

    sync = CallSync.objects.get(tenant=tampered_tenant)
    assert sync.bad_reports == bad and sync.last_error == "" and sync.failing_since is None
    assert sync.watermark is not None and sync.next_page is None
    assert "sem o ID da ligação" in sync.last_bad_report and '"id": null' in sync.last_bad_report
    assert "\x00" not in sync.last_bad_report

    # Later runs read the same reports again without raising, and nothing is stored twice.
    assert reconcile_calls(tampered_tenant) == 0
    assert CallSync.objects.get(tenant=tampered_tenant).bad_reports == 2 * bad

    # The client's page shows calls dated at the edges of time.
    client.force_login(operator)
    assert client.get(f"/atendimento/{debtor.pk}/").status_code == 200
    client.force_login(tenant_admin)
    page = client.get(f"/admin/tenants/tenant/{tampered_tenant.pk}/change/").content.decode()
    assert "Relatórios ignorados" in page and "Relatório de ligação inválido: sem o ID da ligação." in page
    assert "Lido até" in page and timezone.localtime(sync.watermark).strftime("%d/%m/%Y") in page


def test_a_failing_reconciliation_shows_on_the_tenant_page_and_after_an_hour_in_healthz(
    tampered_tenant, sandbox, tenant_admin, client
):
    with_default_campaign(tampered_tenant, sandbox)
    sandbox.set_faults(fail_next=100, fail_status=401)
    started = timezone.now()
    reconcile_calls(tampered_tenant, now=started)
    assert client.get("/healthz").json()["reconciliations_failing"] == 0, "failing since now: not yet an hour"
    an_hour_later = started + datetime.timedelta(minutes=61)
    reconcile_calls(tampered_tenant, now=an_hour_later)
    sync = CallSync.objects.get(tenant=tampered_tenant)
    assert sync.failing_since == started and "Token" in sync.last_error
    with freeze_time(an_hour_later):
        health = client.get("/healthz")
    assert health.json()["reconciliations_failing"] == 1
    assert TOKEN not in health.content.decode() and tampered_tenant.slug not in health.content.decode()
    client.force_login(tenant_admin)
    page = client.get(f"/admin/tenants/tenant/{tampered_tenant.pk}/change/").content.decode()
    assert "Token do 3C Plus inválido" in page and "falhando desde" in page
    assert TOKEN not in page

    sandbox.set_faults(fail_next=0)
    reconcile_calls(tampered_tenant)
    sync = CallSync.objects.get(tenant=tampered_tenant)
    assert sync.failing_since is None and sync.last_error == "" and sync.watermark is not None
    assert client.get("/healthz").json()["reconciliations_failing"] == 0


@pytest.mark.parametrize("retry_after", ["-1", "nan", "inf", "1e12", "amanhã"])
def test_a_broken_retry_after_is_treated_as_absent(make_dialer_api, sandbox, sleeps, retry_after):
    """Exports, removals and the reconciliation share this client: -1 or nan crashed time.sleep."""
    sandbox.set_faults(fail_next=2, fail_status=429, retry_after=retry_after)
    api = make_dialer_api(retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05))
    assert len(api.list_campaigns()) == 3
    assert len(sleeps) == 2 and all(math.isfinite(s) and 0 <= s <= 0.05 for s in sleeps), sleeps


def test_reconciliation_goes_on_after_a_rate_limit_with_a_nan_retry_after(tampered_tenant, sandbox, make_client):
    debtor = make_client()
    call_id = sandbox.account("alfa").calls[call_without_webhooks(tampered_tenant, sandbox, debtor)]["history_id"]
    sandbox.set_faults(fail_next=1, fail_status=429, retry_after="nan")
    assert reconcile_calls(tampered_tenant) == 1
    assert DialerCallEvent.objects.get(call_id=call_id).client == debtor
    assert sandbox.injected == 1


def endless_pages(status, headers, payload, query):
    """links.next on every page, each with a new call: 3C Plus paginating forever."""
    page = int(query["page"][0])
    report = {"id": f"loop-{page}", "call_date": "2026-12-07 09:00:00", "number": "11987650000"}
    body = {"data": [report], "meta": {"pagination": {"links": {"next": f"/calls?page={page + 1}"}}}}
    return tampering.answer(200, body)


def calls_requests(sandbox):
    return [r["query"] for r in sandbox.requests if r["path"] == "/calls"]


def test_links_next_forever_is_read_a_few_pages_per_run_and_continued_next_run(
    tampered, tampered_tenant, sandbox, settings
):
    settings.DIALER_RECONCILE_MAX_PAGES = 3
    with_default_campaign(tampered_tenant, sandbox)
    tampered.rewrite("GET", "/calls", endless_pages)

    assert reconcile_calls(tampered_tenant) == 3
    first = calls_requests(sandbox)
    assert [q["page"] for q in first] == [["1"], ["2"], ["3"]]
    sync = CallSync.objects.get(tenant=tampered_tenant)
    assert sync.next_page == 4 and sync.watermark is None and sync.last_error == ""

    sandbox.requests.clear()
    assert reconcile_calls(tampered_tenant, now=timezone.now() + datetime.timedelta(minutes=5)) == 3
    second = calls_requests(sandbox)
    assert [q["page"] for q in second] == [["4"], ["5"], ["6"]]
    assert {(q["start_date"][0], q["end_date"][0]) for q in first + second} == {
        (first[0]["start_date"][0], first[0]["end_date"][0])
    }, "the same window, page after page"
    assert CallSync.objects.get(tenant=tampered_tenant).next_page == 7

    tampered.clear()  # the pass ends (the sandbox has no page 7): the watermark moves to the window's end
    sandbox.requests.clear()
    reconcile_calls(tampered_tenant)
    assert [q["page"] for q in calls_requests(sandbox)] == [["7"]]
    sync = CallSync.objects.get(tenant=tampered_tenant)
    assert sync.next_page is None and sync.pass_end is None and sync.watermark is not None
    assert DialerCallEvent.objects.filter(call_id__startswith="loop-").count() == 6


def test_the_same_page_forever_ends_the_pass_and_says_so(tampered, tampered_tenant, sandbox, settings):
    settings.DIALER_RECONCILE_MAX_PAGES = 50
    with_default_campaign(tampered_tenant, sandbox)

    def same_page(status, headers, payload, query):
        return endless_pages(status, headers, payload, {"page": ["1"]})

    tampered.rewrite("GET", "/calls", same_page)
    assert reconcile_calls(tampered_tenant) == 1
    assert len(calls_requests(sandbox)) == 2, "stopped at the first repetition"
    sync = CallSync.objects.get(tenant=tampered_tenant)
    assert "repetiu a página 1" in sync.last_error and sync.next_page is None and sync.watermark is not None


def test_only_the_campaigns_we_pushed_to_are_asked_for(dialer_tenant, sandbox, make_client):
    assert reconcile_calls(dialer_tenant) == 0
    assert calls_requests(sandbox) == [], "nothing sent to 3C Plus yet: no call can be ours"

    default = with_default_campaign(dialer_tenant, sandbox, index=1)
    call_without_webhooks(dialer_tenant, sandbox, make_client())
    exported = DialerExport.objects.get().campaign_id
    assert exported != default
    reconcile_calls(dialer_tenant)
    (query,) = calls_requests(sandbox)
    assert query["campaigns[]"] == [str(default), str(exported)]
    assert query["simple_paginate"] == ["true"] and query["with_mailing"] == ["true"]
    assert query["start_date"] and query["end_date"]


@pytest.mark.parametrize("data", [[{"id": 7, "name": "Lista"}], "lista", {"name": "sem id"}, {"id": "abc"}])
def test_a_list_created_with_an_unexpected_answer_fails_the_export_with_the_reason(
    tampered, tampered_tenant, sandbox, make_client, data
):
    """POST …/lists answering {"data": [...]} killed the export with a TypeError."""
    campaign = with_default_campaign(tampered_tenant, sandbox)
    tampered.rewrite("POST", r"/campaigns/\d+/lists", lambda *answer: tampering.answer(201, {"data": data}))
    from core.models import Client

    debtor = make_client()
    export = exports.create_export(
        tampered_tenant, None, Client.objects.filter(pk=debtor.pk), campaign_id=campaign, enqueue=False
    )
    export = exports.run_export(export.pk)
    assert export.status == DialerExport.Status.FAILED
    assert "Resposta inesperada do 3C Plus para a lista criada" in export.error_summary

    tampered.clear()  # 3C Plus answers as documented again: "Continuar envio" sends it
    assert exports.resume_export(export)
    assert exports.run_export(export.pk).status == DialerExport.Status.DONE


@pytest.mark.parametrize(
    "body",
    [
        {"data": "texto"},
        {"data": {"id": 1}},
        {"data": [1, 2]},
        {"data": [], "meta": []},
        {"data": [{"id": 1}], "meta": {"pagination": {"total_pages": "muitas"}}},
    ],
)
def test_every_list_endpoint_checks_the_shape(tampered, make_dialer_api, body):
    tampered.rewrite("GET", "/campaigns", lambda *answer: tampering.answer(200, body))
    api = make_dialer_api(base_url=tampered.url)
    if body.get("meta") is not None or body["data"] == []:
        assert api.list_campaigns() == body["data"], "an odd meta is no next page"
        return
    with pytest.raises(MalformedResponseError) as error:
        api.list_campaigns()
    assert error.value.excerpt and "Resposta inesperada do 3C Plus" in error.value.message


def test_a_list_endpoint_paginating_forever_is_an_error(tampered, make_dialer_api, monkeypatch):
    monkeypatch.setattr("dialer.client.MAX_LIST_PAGES", 5)

    def forever(status, headers, payload, query):
        page = int(query["page"][0])
        return tampering.answer(200, {"data": [{"id": page}], "meta": {"pagination": {"links": {"next": "x"}}}})

    tampered.rewrite("GET", "/campaigns", forever)
    with pytest.raises(MalformedResponseError) as error:
        make_dialer_api(base_url=tampered.url).list_campaigns()
    assert "5 páginas" in error.value.message


def test_get_campaign_with_a_list_for_data_is_a_typed_error(tampered, make_dialer_api):
    tampered.rewrite("GET", r"/campaigns/\d+", lambda *answer: tampering.answer(200, {"data": [{"id": 1}]}))
    with pytest.raises(MalformedResponseError):
        make_dialer_api(base_url=tampered.url).get_campaign(1)


def test_bounded_report_keeps_an_excerpt_without_the_token():
    with pytest.raises(MalformedResponseError) as error:
        bounded_report(
            {"id": "c1", "qualification": [1], "recording": f"https://x.3c.plus/r?api_token={TOKEN}"},
            lambda value: __import__("dialer.client", fromlist=["answer_excerpt"]).answer_excerpt(value, TOKEN),
        )
    assert TOKEN not in error.value.excerpt and '"id": "c1"' in error.value.excerpt


def test_a_run_failing_mid_pass_resumes_at_the_failing_page(tampered, tampered_tenant, sandbox, settings):
    settings.DIALER_RECONCILE_MAX_PAGES = 5
    with_default_campaign(tampered_tenant, sandbox)
    broken = {"page": "3"}

    def failing_on_page_three(status, headers, payload, query):
        if query["page"][0] == broken["page"]:
            return tampering.answer(500, {"status": 500, "detail": "falha"})
        return endless_pages(status, headers, payload, query)

    tampered.rewrite("GET", "/calls", failing_on_page_three)
    assert reconcile_calls(tampered_tenant) == 2
    sync = CallSync.objects.get(tenant=tampered_tenant)
    assert sync.next_page == 3 and "indisponível" in sync.last_error and sync.failing_since is not None

    broken["page"] = ""
    sandbox.requests.clear()
    assert reconcile_calls(tampered_tenant) == 5
    assert [q["page"] for q in calls_requests(sandbox)] == [["3"], ["4"], ["5"], ["6"], ["7"]]
    sync = CallSync.objects.get(tenant=tampered_tenant)
    assert sync.next_page == 8 and sync.last_error == "" and sync.failing_since is None


def test_testar_conexao_says_the_answer_is_not_a_campaign_list_without_echoing_it(tampered, tampered_tenant):
    from dialer.tenant_api import test_connection

    tampered.rewrite("GET", "/campaigns", lambda *answer: tampering.answer(200, {"data": "<html>interno</html>"}))
    result = test_connection(tampered_tenant)
    assert result == {"ok": False, "error": "A resposta não é uma lista de campanhas do 3C Plus: confira a URL da API."}


def test_the_sandbox_answers_only_the_campaigns_asked_for_without_counting_pages(dialer_tenant, sandbox, make_client):
    """The fake does what the real GET /calls does with campaigns[] and simple_paginate (swagger), so the
    reconciliation's narrowing is exercised, not only its request."""
    call_without_webhooks(dialer_tenant, sandbox, make_client())
    exported = DialerExport.objects.get().campaign_id
    other = next(c["id"] for c in sandbox.account("alfa").campaigns.values() if c["id"] != exported)
    window = ("2000-01-01 00:00:00", "2099-12-31 23:59:59")
    with tenant_api.api_for(dialer_tenant) as api:
        assert len(api.calls_page(*window, campaigns=[exported], page=1).reports) == 1
        assert api.calls_page(*window, campaigns=[other], page=1).reports == []
    assert [q["campaigns[]"] for q in calls_requests(sandbox)] == [[str(exported)], [str(other)]]
