"""The operator plays a call's recording on the client's timeline: Chromium's <audio> player fetches it from our
endpoint, which streams it from the sandbox 3C Plus (on loopback, token required) and lets the player seek."""

import pytest
from django.test import Client as DjangoClient
from playwright.sync_api import expect

from sandbox.fake import Sandbox
from sandbox.server import SandboxServer
from tenants.settings_schema import clean_settings
from tests.browser.conftest import login
from tests.dialer.test_call_recordings import recorded_call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sandbox_server():
    server = SandboxServer(Sandbox(seed=3)).start()
    yield server
    server.stop()


def test_the_recording_plays_and_seeks_on_the_timeline(
    page, live_server, tenant, operator, make_client, sandbox_server
):
    tenant.settings = clean_settings({"threecplus_base_url": sandbox_server.url, "threecplus_api_key": "sandbox-alfa"})
    tenant.save()
    debtor = make_client(name="Gabriel Gravado", phones=("+5511987654321",))
    call = recorded_call(DjangoClient(), tenant, sandbox_server.sandbox, debtor)
    answers = []
    page.on(
        "response",
        lambda r: answers.append((r.status, r.headers.get("content-range"))) if "/gravacoes/" in r.url else None,
    )

    login(page, live_server, operator, next_url=f"/atendimento/{debtor.pk}/")
    player = page.locator(f'#timeline-list audio[src="/atendimento/{debtor.pk}/gravacoes/{call.pk}/"]')
    expect(player).to_have_count(1)
    assert player.get_attribute("preload") == "none" and player.get_attribute("controls") is not None

    # Muted, so that Chromium lets a script start it (as a click on the player's own button would).
    player.evaluate("audio => { audio.muted = true; return audio.play(); }")
    page.wait_for_function("audio => audio.currentTime > 0.2", arg=player.element_handle(), timeout=15_000)
    duration = player.evaluate("audio => audio.duration")
    assert 1.9 < duration < 2.1, duration  # the sandbox's two-second recording, read to the end of its header

    # Seeking to a point asks for the rest of the file from there: a byte range, answered 206.
    player.evaluate("audio => { audio.pause(); audio.currentTime = 1.5; }")
    page.wait_for_function("audio => !audio.seeking && audio.currentTime >= 1.5", arg=player.element_handle())
    assert all(status in (200, 206) for status, _range in answers), answers
    assert any(status == 206 and content_range for status, content_range in answers), answers
