""" "Não ligar" per client and per phone: from the atendimento page, the admin and the import; who, when,
shown in the header and audited."""

import csv
import io

from django.core.management import call_command

from core.importing import TEMPLATE_HEADERS
from core.models import Client, ClientPhone
from tenants.models import AuditEvent
from tests.core.test_import import GOOD


def csv_bytes(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TEMPLATE_HEADERS, delimiter=";", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def test_atendimento_marks_the_client(client, operator, make_client):
    debtor = make_client(name="Joana")
    client.force_login(operator)
    response = client.post(f"/atendimento/{debtor.pk}/nao-ligar/", {"reason": "advogado"})
    assert response.status_code == 302
    debtor.refresh_from_db()
    assert debtor.do_not_call_reason == "advogado"
    assert debtor.do_not_call_by == operator and debtor.do_not_call_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.DO_NOT_CALL)
    assert event.user == operator and event.object_id == str(debtor.pk)
    assert event.changes == {"não ligar": ["", "Advogado"]}
    html = client.get(f"/atendimento/{debtor.pk}/").content.decode()
    assert 'id="do-not-call-banner"' in html and "Não ligar: Advogado" in html


def test_atendimento_marks_one_phone(client, operator, make_client):
    debtor = make_client(phones=("+5511987654321", "+5511933334444"))
    first, second = debtor.phones.order_by("priority")
    client.force_login(operator)
    client.post(f"/atendimento/{debtor.pk}/nao-ligar/", {"reason": "obito", "phone": first.pk})
    first.refresh_from_db()
    debtor.refresh_from_db()
    assert first.do_not_call_reason == "obito" and not first.active and first.do_not_call_by == operator
    assert debtor.do_not_call_reason == "" and debtor.main_phone == second.number and debtor.active_phones == 1
    assert "Não ligar: Óbito" in client.get(f"/atendimento/{debtor.pk}/").content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DO_NOT_CALL, object_id=str(first.pk)).exists()


def test_unknown_reason_is_refused_and_other_tenants_clients_are_404(client, operator, make_client, other_tenant):
    debtor = make_client()
    foreign = make_client(tenant=other_tenant)
    client.force_login(operator)
    client.post(f"/atendimento/{debtor.pk}/nao-ligar/", {"reason": "porque sim"})
    debtor.refresh_from_db()
    assert debtor.do_not_call_reason == ""
    assert client.post(f"/atendimento/{foreign.pk}/nao-ligar/", {"reason": "lgpd"}).status_code == 404


def test_admin_marks_and_clears_through_the_service(client, tenant_admin, make_client):
    debtor = make_client(name="Carlos", state="SP")
    client.force_login(tenant_admin)
    url = f"/admin/core/client/{debtor.pk}/change/"
    page = client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update({"cpf": debtor.cpf, "creditor": debtor.creditor_id, "do_not_call_reason": "lgpd"})
    for prefix in ("phones", "debts"):
        formset = next(f for f in page.context["inline_admin_formsets"] if f.formset.prefix == prefix).formset
        management = formset.management_form
        data.update({f"{prefix}-{k}": v for k, v in management.initial.items()})
        for index, sub in enumerate(formset.forms):
            for name, field in sub.fields.items():
                value = sub.initial.get(name, field.initial)
                if value is not None and value is not False:
                    data[f"{prefix}-{index}-{name}"] = getattr(value, "pk", value)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    debtor.refresh_from_db()
    assert debtor.do_not_call_reason == "lgpd" and debtor.do_not_call_by == tenant_admin
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DO_NOT_CALL, user=tenant_admin).count() == 1


def test_import_column_marks_and_a_blank_cell_keeps_the_mark(tenant, creditor, tmp_path):
    path = tmp_path / "c.csv"
    rows = [
        {**GOOD, "nao_ligar": "Pedido do devedor"},
        {**GOOD, "external_id": "E2", "cpf": "111.444.777-35", "nao_ligar": "lgpd"},
        {**GOOD, "external_id": "E3", "cpf": "390.533.447-05", "nao_ligar": "talvez"},
    ]
    path.write_bytes(csv_bytes(rows))
    out = io.StringIO()
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=out)
    assert "Não ligar inválido: talvez" in out.getvalue()
    marked = dict(Client.objects.filter(tenant=tenant).values_list("external_id", "do_not_call_reason"))
    assert marked == {"E1": "pedido_devedor", "E2": "lgpd"}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DO_NOT_CALL).count() == 2
    path.write_bytes(csv_bytes([{**GOOD, "nao_ligar": ""}]))
    call_command("import_wallet", str(path), "--tenant", tenant.slug, "--no-progress", stdout=io.StringIO())
    assert Client.objects.get(tenant=tenant, external_id="E1").do_not_call_reason == "pedido_devedor"


def test_wrong_contact_tabulation_marks_the_phone_wrong_number(client, operator, make_client):
    debtor = make_client(phones=("+5511987654321", "+5511933334444"))
    phone = debtor.phones.order_by("priority").first()
    client.force_login(operator)
    client.post(f"/atendimento/{debtor.pk}/telefones/{phone.pk}/errado/")
    phone = ClientPhone.objects.get(pk=phone.pk)
    assert phone.do_not_call_reason == "numero_errado" and phone.do_not_call_by == operator
    assert phone.deactivation_reason == "contato_incorreto" and not phone.active
