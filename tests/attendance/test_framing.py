def test_atendimento_pages_are_frameable_by_3cplus_only(client, operator, make_client):
    wallet_client = make_client()
    client.force_login(operator)
    response = client.get(f"/atendimento/{wallet_client.pk}/")
    assert "X-Frame-Options" not in response.headers
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://*.3c.plus https://app.3c.plus" in policy
    assert "default-src 'self'" in policy
    login_page = client.get("/entrar/")
    assert "X-Frame-Options" not in login_page.headers


def test_every_other_page_stays_unframeable(client, tenant_admin):
    client.force_login(tenant_admin)
    response = client.get("/admin/core/client/")
    assert response.headers["X-Frame-Options"] in ("DENY", "SAMEORIGIN")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self';" in policy + ";"
    assert "3c.plus" not in policy
    assert "connect-src 'self'" in policy and "object-src 'none'" in policy


def test_framing_can_be_turned_off(client, operator, make_client, settings):
    settings.ATTENDANCE_FRAME_ANCESTORS = []
    wallet_client = make_client()
    client.force_login(operator)
    assert client.get(f"/atendimento/{wallet_client.pk}/").headers["X-Frame-Options"] == "DENY"


def test_production_cookies_for_framing():
    import os
    import subprocess
    import sys

    code = "from django.conf import settings; print(settings.SESSION_COOKIE_SAMESITE, settings.SESSION_COOKIE_SECURE)"
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "FIELD_ENCRYPTION_KEY": "ZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2UtcHJvZCE=",
    }
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["None", "True"]
