"""A browser in another time zone than the server's gets the admin's date-field note in Portuguese."""

import pytest

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("timezone_id", "hours", "direction"),
    [("Asia/Tokyo", "12 horas", "adiantado"), ("Pacific/Honolulu", "7 horas", "atrasado")],
)
def test_date_filters_warn_in_portuguese(browser, browser_context_args, live_server, tenant_admin, timezone_id, hours,
                                         direction):
    context = browser.new_context(**{**browser_context_args, "timezone_id": timezone_id})
    page = context.new_page()
    login(page, live_server, tenant_admin, next_url="/admin/attendance/clientaccesslog/")
    page.wait_for_load_state("load")
    notes = page.locator(".timezonewarning").all_text_contents()
    context.close()
    assert notes, "the accessed-at range filter should carry the time-zone note"
    for note in notes:
        assert note.startswith("Atenção: informe os horários no fuso horário do servidor."), note
        assert f"{hours} {direction}" in note, note
        assert "Note" not in note and "timezone" not in note
