"""Load any time: "Enviar" on a Sunday night accepts the clients and says when they will be dialled; what holds a
client off the list (a callback later, the re-work rule) and what stops it ("não ligar") at the projection's sweep."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from attendance.models import CallDisposition, DispositionType
from core import services as core_services
from core.models import Client
from dialer import exports, projection
from dialer import timeline as dialer_timeline
from dialer.models import DialerCallEvent, DialerExport, DialerExportItem
from tests.dialer.test_send_action import CHANGELIST

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SUNDAY_NIGHT = datetime.datetime(2026, 4, 19, 21, 0, tzinfo=SAO_PAULO)
MONDAY = datetime.datetime(2026, 4, 20, 11, 0, tzinfo=SAO_PAULO)


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def preview_html(client, user):
    client.force_login(user)
    base = {
        "action": "send_to_dialer",
        "select_across": "1",
        "index": "0",
        "_selected_action": list(Client.objects.values_list("pk", flat=True)[:1]),
    }
    response = client.post(CHANGELIST + "?discavel=", base)
    assert response.status_code == 200
    return response, base


def text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    return " ".join(found.group(1).split()) if found else ""


@pytest.mark.real_calling_hours
def test_sunday_night_send_is_accepted_and_held_until_the_window_opens(
    client, supervisor, configured, make_client, sandbox, immediate_tasks, django_capture_on_commit_callbacks
):
    make_client(name="Acreano", state="AC")
    make_client(name="Acreana", state="AC")
    with freeze_time(SUNDAY_NIGHT):
        response, base = preview_html(client, supervisor)
        html = response.content.decode()
        assert text(html, "preview-window") == "agora: 0; quando a janela abrir: 2 (primeiro às 08:00 em AC)"
        assert 'id="preview-to-send" class="font-semibold">2<' in html
        assert "fora do horário permitido no estado do devedor: <strong>2</strong>" in html
        assert "Enviar 2 clientes" in html and "disabled" not in html.split('data-testid="confirm-send"')[0][-400:]
        campaign = response.context["form"].fields["campaign"].choices[0][0]
        with django_capture_on_commit_callbacks(execute=True):
            client.post(CHANGELIST, {**base, "confirm": "1", "campaign": campaign, "list_name": "Segunda"})
    export = DialerExport.objects.get()
    assert export.status == DialerExport.Status.DONE and export.to_send_count == 2 and export.sent_count == 0
    assert sandbox.account("alfa").contacts[export.list_id] == []
    assert set(DialerExportItem.objects.values_list("status", flat=True)) == {DialerExportItem.Status.HELD}
    # Monday 08:00 in Acre is 10:00 in Brasília: not yet at 09:50, on the list from the tick after 10:00.
    for at, on_list in ((datetime.datetime(2026, 4, 20, 9, 50, tzinfo=SAO_PAULO), 0), (MONDAY, 2)):
        with freeze_time(at):
            projection.project_tenant(configured, at)
        assert len(sandbox.account("alfa").contacts[export.list_id]) == on_list, at


@pytest.mark.real_calling_hours
def test_the_preview_names_the_first_region_to_open(client, supervisor, configured, make_client):
    make_client(name="Paulista", state="SP")
    make_client(name="Acreano", state="AC")
    with freeze_time(SUNDAY_NIGHT):
        response, _base = preview_html(client, supervisor)
    assert text(response.content.decode(), "preview-window") == (
        "agora: 0; quando a janela abrir: 2 (primeiro às 08:00 em SP)"
    )


def loaded(tenant, campaign_id, *clients):
    with freeze_time(MONDAY):
        export = exports.create_export(tenant, None, Client.objects.all(), campaign_id=campaign_id, enqueue=False)
        export = exports.run_export(export.pk)
    assert export.sent_count == len(clients)
    return export


def on_list(sandbox, export) -> set[str]:
    return {c["identifier"] for c in sandbox.account("alfa").contacts[export.list_id]}


def test_a_callback_later_takes_the_client_off_until_its_time(
    dialer_tenant, campaign_id, make_client, sandbox, operator
):
    ana, bia = make_client(name="Ana"), make_client(name="Bia")
    export = loaded(dialer_tenant, campaign_id, ana, bia)
    kind = DispositionType.objects.create(tenant=dialer_tenant, name="Retornar", behavior="retornar")
    callback_at = MONDAY + datetime.timedelta(hours=3)
    CallDisposition.objects.create(
        tenant=dialer_tenant, client=ana, operator=operator, type=kind, callback_at=callback_at
    )
    with freeze_time(MONDAY):
        projection.project_tenant(dialer_tenant, MONDAY)
    assert on_list(sandbox, export) == {str(bia.pk)}
    assert DialerExportItem.objects.get(client=ana).status == DialerExportItem.Status.HELD
    later = callback_at + datetime.timedelta(minutes=1)
    with freeze_time(later):
        projection.project_tenant(dialer_tenant, later)
    assert on_list(sandbox, export) == {str(ana.pk), str(bia.pk)}


def test_the_rework_rule_holds_a_number_for_its_hours(dialer_tenant, campaign_id, make_client, sandbox):
    dialer_tenant.settings = {**dialer_tenant.settings, "dialer_rework_busy_hours": 4}
    dialer_tenant.save()
    ana, bia = make_client(name="Ana"), make_client(name="Bia")
    export = loaded(dialer_tenant, campaign_id, ana, bia)
    with freeze_time(MONDAY):
        for who, status in ((ana, "8"), (bia, "7")):  # Ana's line was busy, Bia answered
            DialerCallEvent.objects.create(
                tenant=dialer_tenant,
                event=DialerCallEvent.Event.HISTORY,
                call_id=f"h{who.pk}",
                client=who,
                status=status,
            )
        projection.project_tenant(dialer_tenant, MONDAY)
    assert on_list(sandbox, export) == {str(bia.pk)}
    # The client's timeline says when the number comes back.
    details = [repr(entry) for entry in dialer_timeline.calls(ana, None, 10)]
    assert any("Reciclagem: volta à lista em 20/04 15:00 (ocupado)" in d for d in details), details
    for hours, expected in ((3, {str(bia.pk)}), (4, {str(ana.pk), str(bia.pk)})):
        at = MONDAY + datetime.timedelta(hours=hours, minutes=1)
        with freeze_time(at):
            projection.project_tenant(dialer_tenant, at)
        assert on_list(sandbox, export) == expected, hours


def test_a_client_marked_do_not_call_leaves_and_does_not_come_back(dialer_tenant, campaign_id, make_client, sandbox):
    ana, bia = make_client(name="Ana"), make_client(name="Bia")
    export = loaded(dialer_tenant, campaign_id, ana, bia)
    with freeze_time(MONDAY):
        # Marked with the removal's task lost: the sweep takes it out anyway.
        Client.objects.filter(pk=ana.pk).update(do_not_call_reason=core_services.DoNotCallReason.choices[0][0])
        projection.project_tenant(dialer_tenant, MONDAY)
    assert on_list(sandbox, export) == {str(bia.pk)}
    item = DialerExportItem.objects.get(client=ana)
    assert item.status == DialerExportItem.Status.SKIPPED and item.error == "não ligar (cliente)"


@pytest.mark.real_calling_hours
def test_an_opening_whose_answers_are_lost_puts_them_back_once(dialer_tenant, campaign_id, make_client, sandbox):
    """The POSTs of an opening stored by 3C Plus but answered with a gateway error: the items go back to HELD, and the
    next sweep deletes before posting again, so nobody is on the list twice."""
    ana, bia = make_client(name="Ana", state="SP"), make_client(name="Bia", state="SP")
    export = loaded(dialer_tenant, campaign_id, ana, bia)
    closed = datetime.datetime(2026, 4, 20, 20, 30, tzinfo=SAO_PAULO)
    with freeze_time(closed):
        assert projection.project_tenant(dialer_tenant, closed).removed == 2
    assert on_list(sandbox, export) == set()
    wednesday = datetime.datetime(2026, 4, 22, 11, 0, tzinfo=SAO_PAULO)  # Tuesday is Tiradentes
    sandbox.set_faults(lost_answer_rate=1.0, lost_answer_status=502)
    with freeze_time(wednesday):
        result = projection.project_tenant(dialer_tenant, wednesday)
    assert (result.added, result.failed) == (0, 2)
    assert set(DialerExportItem.objects.values_list("status", flat=True)) == {DialerExportItem.Status.HELD}
    assert on_list(sandbox, export) == {str(ana.pk), str(bia.pk)}  # stored all the same
    sandbox.set_faults(lost_answer_rate=0.0, lost_answer_status=None)
    with freeze_time(wednesday):
        assert projection.project_tenant(dialer_tenant, wednesday).added == 2
    contacts = sandbox.account("alfa").contacts[export.list_id]
    assert sorted(c["identifier"] for c in contacts) == sorted([str(ana.pk), str(bia.pk)])
    assert set(DialerExportItem.objects.values_list("status", flat=True)) == {DialerExportItem.Status.SENT}
