"""Issue 24, item 1: no network call inside a database transaction. The tenant page lists 3C Plus's campaigns for
the default campaign's select; Django's admin builds and saves that form inside one transaction, which on the
README's SQLite demo holds the write lock: every tabulação, login and the worker waited for 3C Plus."""

import pytest
from django.db import connection

from dialer import settings_admin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def campaigns_asked(monkeypatch):
    """Each time the page asks 3C Plus for the campaigns: was a transaction open? The real call still goes out."""
    seen = []
    real = settings_admin.campaigns

    def spy(tenant):
        seen.append(connection.in_atomic_block)
        return real(tenant)

    monkeypatch.setattr(settings_admin, "campaigns", spy)
    return seen


def test_the_tenant_page_asks_3c_plus_for_campaigns_outside_any_transaction(
    client, dialer_tenant, tenant_admin, sandbox, campaigns_asked
):
    client.force_login(tenant_admin)
    page = client.get(f"/admin/tenants/tenant/{dialer_tenant.pk}/change/")
    assert page.status_code == 200
    assert campaigns_asked == [False]
    assert "Campanha padrão" in page.content.decode()
    # Saving (an invalid value keeps the form on the page, built again) asks again, still outside.
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if form[name].value() is not None}
    data.update({"name": "", "settings": form["settings"].value()})
    again = client.post(f"/admin/tenants/tenant/{dialer_tenant.pk}/change/", data)
    assert again.status_code == 200 and again.context["adminform"].form.errors
    assert campaigns_asked == [False, False]
