"""The webhook secret is a credential: encrypted at rest like the 3C Plus token, and never in a log line."""

import hashlib
import io
import logging

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client as HttpClient

from tenants import secrets
from tenants.models import Tenant

BEFORE = [("tenants", "0005_audit_events")]


def stored_row(tenant) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tenants_tenant WHERE id = %s", [tenant.pk])
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.mark.django_db
def test_no_column_holds_the_secret(client, tenant, tenant_admin):
    for _ in range(2):  # as created, and after a rotation from the admin
        secret = tenant.webhook_secret
        row = stored_row(tenant)
        assert all(secret not in str(value) for value in row.values())
        assert secrets.decrypt(row["webhook_secret_encrypted"]) == secret
        assert row["webhook_secret_digest"] == hashlib.sha256(secret.encode()).hexdigest()
        response = client.post(f"/dialer/webhooks/3cplus/{secret}/", "{}", content_type="application/json")
        assert response.status_code == 202  # found by its digest; valid JSON that is no event is kept unused
        client.force_login(tenant_admin)
        client.post(f"/admin/tenants/tenant/{tenant.pk}/rotacionar-webhook/")
        tenant.refresh_from_db()
        assert tenant.webhook_secret != secret


@pytest.mark.django_db
def test_the_secret_never_reaches_the_logs(tenant, json_log, monkeypatch):
    secret = tenant.webhook_secret
    url = f"/dialer/webhooks/3cplus/{secret}/"
    http = HttpClient(raise_request_exception=False)
    assert http.get(url).status_code == 405
    assert http.post(url, "{não é json", content_type="application/json").status_code == 400
    assert http.post(f"/dialer/webhooks/3cplus/{secret}x/", "{}", content_type="application/json").status_code == 404

    def explode(body):
        raise RuntimeError(f"falhou ao ler o evento de {url}")

    monkeypatch.setattr("dialer.webhooks.parse", explode)
    assert http.post(url, "{}", content_type="application/json").status_code == 500

    logged = json_log.getvalue()
    assert logged.count("/dialer/webhooks/3cplus/") >= 4, logged  # the path is logged, without its secret
    assert secret not in logged
    assert "RuntimeError" in logged  # the traceback is kept


@pytest.mark.django_db
def test_the_access_log_of_the_sandbox_hides_its_token(json_log):
    logging.getLogger("django.server").info(
        '"%s" %s %s', "GET /sandbox/3cplus/api/v1/campaigns?api_token=sandbox-x1 HTTP/1.1", "200", "10"
    )
    assert "sandbox-x1" not in json_log.getvalue() and "api_token=" in json_log.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_stored_secrets_in_place(django_user_model):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("tenants", "Tenant")
    plaintexts = {}
    for n in range(5):
        secret = f"segredo-antigo-{n}-" + "x" * 20
        tenant = old.objects.create(
            name=f"Empresa {n}",
            slug=f"empresa-{n}",
            webhook_secret=secret,
            webhook_secret_digest=hashlib.sha256(secret.encode()).hexdigest(),
        )
        plaintexts[tenant.pk] = secret

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # every app: going back unapplied their later migrations

    for pk, secret in plaintexts.items():
        tenant = Tenant.objects.get(pk=pk)
        assert tenant.webhook_secret == secret
        assert all(secret not in str(value) for value in stored_row(tenant).values())
        assert (
            HttpClient().post(f"/dialer/webhooks/3cplus/{secret}/", "{}", content_type="application/json").status_code
            != 404
        )

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)  # and back, for a rollback
    old = executor.loader.project_state(BEFORE).apps.get_model("tenants", "Tenant")
    assert {t.pk: t.webhook_secret for t in old.objects.filter(pk__in=plaintexts)} == plaintexts
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # every app: going back unapplied their later migrations


def test_rotating_the_encryption_key_keeps_the_secret(settings, tenant, other_tenant):
    from cryptography.fernet import Fernet

    before = {t.pk: t.webhook_secret for t in (tenant, other_tenant)}
    old_key = settings.FIELD_ENCRYPTION_KEY
    settings.FIELD_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old_key}"
    call_command("rotate_encryption_key", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY.split(",")[0]
    assert {t.pk: t.webhook_secret for t in Tenant.objects.filter(pk__in=before)} == before
