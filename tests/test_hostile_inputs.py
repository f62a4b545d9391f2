"""Each input that answered 500 in the attack on issue 30, through the page or command where it was found.

The generated fuzz (tests/test_fuzz_inputs.py) tries every parameter; these pin the findings one by one,
with what the person should see instead.
"""

import datetime

import pytest
from django.utils import timezone

from common.parsing import EARLIEST_DATE, LATEST_DATE, clean_text, parse_id, parse_int
from dialer import eligibility
from dialer.models import DialerCallEvent, DialerExport, WebhookDelivery
from tenants.models import Membership

pytestmark = pytest.mark.django_db

SUPERSCRIPT, CIRCLED, ARABIC_INDIC, HUGE = "²", "①", "٣", "9" * 5000


@pytest.mark.parametrize("text", [SUPERSCRIPT, CIRCLED, ARABIC_INDIC, HUGE, "1" * 19, "", " ", "1.0", "0x1", "1e3"])
def test_numbers_from_outside_are_ascii_digits_of_bounded_length(text):
    assert parse_int(text) is None and parse_id(text) is None


def test_plain_numbers_are_read():
    assert parse_int(" 42 ") == 42 and parse_int("-3") == -3 and parse_id("9" * 18) == int("9" * 18)
    assert parse_id("0") is None and parse_id("-3") is None and parse_id(7) == 7 and parse_id(True) is None


def test_control_characters_are_removed_from_text_to_store():
    assert clean_text("a\x00b\x0bc\x1b\x7fd\te\nf", 8) == "abcd\te\nf"[:8]


@pytest.fixture
def agent(operator):
    Membership.objects.filter(user=operator).update(threecplus_agent_id="1001")
    return operator


@pytest.mark.parametrize("value", [SUPERSCRIPT, CIRCLED, HUGE, "-5"])
def test_the_console_poll_reads_depois_in_ascii_digits(client, agent, value):
    client.force_login(agent)
    response = client.get("/atendimento/proxima-ligacao/", {"depois": value})
    assert response.status_code == 200 and response.json()["chamada"] is None


@pytest.mark.parametrize("value", [SUPERSCRIPT, CIRCLED, HUGE])
def test_a_stream_resumed_from_a_hostile_last_event_id_starts_from_now(rf, agent, monkeypatch, value):
    from attendance import views

    monkeypatch.setattr(views, "call_stream_url", lambda request: "/atendimento/ligacoes/")
    request = rf.get("/atendimento/ligacoes/", headers={"Last-Event-ID": value})
    request.user = agent
    agent.is_verified = lambda: False  # as django-otp's OTPMiddleware installs it: no second factor given
    request.membership = Membership.objects.get(user=agent)
    request.session = type("Session", (), {"session_key": "k", "get": lambda self, key, default="": default})()
    newest = views.dialer_selectors.last_connected_call(request.membership.tenant, "1001")
    _tenant, _access, after, _audience = views._stream_start(request)
    assert after == newest  # no last call seen: only calls from now on


@pytest.mark.parametrize("param", ["installment", "debt"])
@pytest.mark.parametrize("value", [SUPERSCRIPT, CIRCLED, HUGE])
def test_a_baixa_opened_with_a_hostile_target_shows_the_empty_form(client, supervisor, param, value):
    client.force_login(supervisor)
    assert client.get("/admin/attendance/payment/add/", {param: value}).status_code == 200


@pytest.mark.parametrize("value", [SUPERSCRIPT, CIRCLED, "9" * 400])
def test_an_export_id_that_is_not_ascii_digits_is_not_found(client, tenant, supervisor, value):
    DialerExport.objects.create(tenant=tenant, campaign_id=1)
    client.force_login(supervisor)
    assert client.get(f"/admin/dialer/dialerexport/{value}/funil/").status_code == 404
    assert client.get(f"/admin/dialer/dialerexport/{value}/change/").status_code in (302, 404)


@pytest.mark.parametrize("value", [SUPERSCRIPT, CIRCLED, HUGE, "1" * 30, 10**30])
def test_call_limits_in_the_settings_are_bounded_numbers(tenant, value):
    errors = eligibility.clean_calling_rules({eligibility.PER_DAY_KEY: value, eligibility.PER_WEEK_KEY: value})
    assert set(errors) == {eligibility.PER_DAY_KEY, eligibility.PER_WEEK_KEY}
    assert all(message[0].isupper() and message.endswith(").") for message in errors.values())


@pytest.mark.parametrize(
    "url",
    [
        "/atendimento/?q=a%00b",
        "/atendimento/?call_id=a%00b",
        "/admin/core/client/?status__exact=a%00b",
        "/admin/core/walletimport/?status__exact=a%00b",
        "/admin/dialer/dialerexport/?status__exact=%00",
        "/admin/attendance/agreement/?q=%00",
        "/admin/core/client/%00/change/",
    ],
)
def test_a_nul_in_a_url_is_a_400(client, tenant_admin, url):
    client.force_login(tenant_admin)
    response = client.get(url)
    assert response.status_code == 400 and "caracteres de controle" in response.content.decode()


def test_a_nul_in_a_posted_call_id_never_reaches_the_database(client, agent, make_client):
    debtor = make_client()
    client.force_login(agent)
    response = client.post(
        f"/atendimento/{debtor.pk}/nao-ligar/", {"reason": "pedido_devedor", "call_id": "c\x00\x0b1"}
    )
    # Control characters make it no 3C Plus call id: the page goes on without one.
    assert response.status_code == 302 and response["Location"].endswith("?call_id=")


@pytest.mark.parametrize("end", ["9999-12-31", "31/12/9999", "0001-01-01"])
def test_the_dashboard_refuses_a_period_outside_the_window(client, tenant_admin, end):
    client.force_login(tenant_admin)
    response = client.get("/admin/", {"periodo": "personalizado", "inicio": end, "fim": end})
    assert response.status_code == 200
    first, last = EARLIEST_DATE.strftime("%d/%m/%Y"), LATEST_DATE.strftime("%d/%m/%Y")
    assert f"Escolha datas entre {first} e {last}." in response.content.decode()


@pytest.mark.parametrize("value", ["30/02/2026", "2026-13-45", "31/12/9999", SUPERSCRIPT])
@pytest.mark.parametrize(
    "url, param",
    [
        ("/admin/attendance/clientaccesslog/", "accessed_at"),
        ("/admin/tenants/auditevent/", "created_at"),
        ("/admin/attendance/agreement/", "created_at"),
        ("/admin/attendance/calldisposition/", "created_at"),
    ],
)
def test_a_date_range_filter_with_an_invalid_date_answers(client, tenant_admin, url, param, value):
    client.force_login(tenant_admin)
    for suffix in ("_from", "_to"):
        assert client.get(url, {f"{param}{suffix}": value}).status_code in (200, 302)


@pytest.mark.parametrize("phone", ["abc", SUPERSCRIPT, HUGE])
def test_do_not_call_for_a_phone_that_is_not_an_id_is_not_found(client, agent, make_client, phone):
    debtor = make_client()
    client.force_login(agent)
    response = client.post(f"/atendimento/{debtor.pk}/nao-ligar/", {"reason": "pedido_devedor", "phone": phone})
    assert response.status_code == 404


@pytest.mark.parametrize("selected", ["abc", SUPERSCRIPT, HUGE])
@pytest.mark.parametrize("action", ["delete_selected", "send_to_dialer"])
def test_an_admin_action_with_a_selected_id_that_is_not_an_id_changes_nothing(
    client, tenant_admin, make_client, selected, action
):
    debtor = make_client()
    client.force_login(tenant_admin)
    response = client.post(
        "/admin/core/client/", {"action": action, "_selected_action": [debtor.pk, selected], "index": "0"}
    )
    assert response.status_code in (200, 302)
    assert type(debtor).objects.filter(pk=debtor.pk).exists()


@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_the_deliveries_page_shows_a_deeply_nested_body(client, tenant, tenant_admin, body):
    delivery = WebhookDelivery.objects.create(tenant=tenant, event="x", result=WebhookDelivery.Result.UNUSED, body=body)
    client.force_login(tenant_admin)
    assert client.get("/admin/dialer/webhookdelivery/").status_code == 200
    assert client.get(f"/admin/dialer/webhookdelivery/{delivery.pk}/change/").status_code == 200


def test_client_pages_open_with_a_call_already_stored_at_year_1(tenant, make_client, agent, tenant_admin, client):
    debtor = make_client(assigned_operator=agent)
    for year in (1, 9999):
        event = DialerCallEvent.objects.create(
            tenant=tenant, event=DialerCallEvent.Event.HISTORY, call_id=f"old-{year}", client=debtor
        )
        moment = datetime.datetime(year, 1 if year == 1 else 12, 1 if year == 1 else 31, tzinfo=datetime.UTC)
        DialerCallEvent.objects.filter(pk=event.pk).update(received_at=moment)
    client.force_login(agent)
    assert client.get(f"/atendimento/{debtor.pk}/").status_code == 200
    assert client.get(f"/atendimento/{debtor.pk}/historico/", {"before": timezone.now().isoformat()}).status_code == 200
    client.force_login(tenant_admin)
    for url in (f"/admin/core/client/{debtor.pk}/change/", "/admin/"):
        assert client.get(url).status_code == 200, url


def test_the_tenant_page_refuses_hostile_call_limits(client, tenant, tenant_admin):
    client.force_login(tenant_admin)
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"
    response = client.get(url)
    assert response.status_code == 200
    from tests.test_admin_forms import browser_post_data

    for value in (SUPERSCRIPT, CIRCLED, HUGE, "1" * 30):
        data, _unreadable = browser_post_data(response.content.decode())
        data[eligibility.PER_DAY_KEY] = [value]
        data["_save"] = [""]
        answer = client.post(url, data)
        assert answer.status_code == 200, value  # the form again, with the error
    tenant.refresh_from_db()
    assert not tenant.stored_settings.get(eligibility.PER_DAY_KEY)


@pytest.mark.parametrize("selected", ["abc", SUPERSCRIPT, HUGE])
def test_deleting_users_with_a_selected_id_that_is_not_an_id_changes_nothing(client, tenant_admin, operator, selected):
    client.force_login(tenant_admin)
    data = {"action": "delete_selected", "_selected_action": [operator.pk, selected], "index": "0"}
    assert client.post("/admin/auth/user/", data).status_code == 302
    assert type(operator).objects.filter(pk=operator.pk).exists()


@pytest.mark.parametrize("value", [SUPERSCRIPT, HUGE])
def test_an_agreement_page_with_an_id_that_is_not_one_is_not_found(client, supervisor, value):
    client.force_login(supervisor)
    assert client.get(f"/admin/attendance/agreement/{value}/change/").status_code == 404


def test_a_client_form_posted_with_hostile_related_ids_is_shown_again_with_errors(client, tenant_admin, make_client):
    from tests.test_admin_forms import browser_post_data

    debtor = make_client()
    client.force_login(tenant_admin)
    url = f"/admin/core/client/{debtor.pk}/change/"
    data, _unreadable = browser_post_data(client.get(url).content.decode())
    data.update({"creditor": [SUPERSCRIPT], "assigned_operator": [HUGE], "_save": [""]})
    assert client.post(url, data).status_code == 200
