"""Tenant isolation, proved for every URL the project serves.

The cases are generated from the URL configuration: a new URL is checked without anyone adding it here,
and a URL whose parameters this file cannot fill fails the test until it is taught how. Two tenants, each
with every kind of record and a user of each role, plus an anonymous visitor, request every URL with the
other tenant's records (GET and POST): nothing of the other tenant is shown, changed or reachable (404),
operators reach nothing of the admin, and anonymous visitors reach nothing but the public URLs.
"""

import datetime
import json
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.forms import BooleanField
from django.test import Client as HttpClient
from django.utils import timezone

from attendance.models import (
    Agreement,
    AgreementInstallment,
    CallDisposition,
    ClientAccessLog,
    DispositionType,
    Message,
    Payment,
)
from core.models import Client, ClientPhone, Creditor, Debt, WalletImport, WalletImportError
from dialer.models import (
    DialerCallEvent,
    DialerExport,
    DialerExportItem,
    Qualification,
    QualificationMapping,
    WebhookDelivery,
)
from dialer.types import DispositionBehavior
from messaging.models import OptOut, Step
from payments.models import Charge, ReceivedPayment
from statements.models import Statement, StatementLine
from tenants.models import AuditEvent, Membership, Role, Tenant
from tests.conftest import PASSWORD, valid_cpf
from tests.urlconf import walk

pytestmark = pytest.mark.django_db

User = get_user_model()
ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)
# Reachable without logging in, by design.
PUBLIC = {"login", "logout", "healthz", "threecplus_webhook", "sandbox_api", "admin:login", "admin:logout"}
# The PSP reaches these: the sandbox PSP's API (its own OAuth2) and the PIX webhook (an HMAC in its URL).
PUBLIC |= {"sandbox_psp_api", "pix_webhook", "pix_webhook_pix"}
# Meta and Twilio reach these (signed bodies), and the WhatsApp sandbox's Graph API its own token.
PUBLIC |= {"whatsapp_webhook", "sms_status", "sandbox_whatsapp_api"}
PUBLIC |= {"admin_login"}  # the admin's login page, answered first by core.views.admin_login
PUBLIC |= {"favicon"}  # the icon every page links, error pages included
# Pages only a tenant admin (or a superuser) may open in the admin.
ADMIN_ONLY_MODELS = {"tenants.tenant", "auth.user", "tenants.auditevent", "attendance.clientaccesslog"}
ADMIN_ONLY_MODELS |= {"dialer.qualification", "dialer.webhookdelivery"}
# The webhook is public by design (the secret in its URL is the credential) and logs every delivery.
LOGS_OF_PUBLIC_ENDPOINTS = {"dialer.WebhookDelivery"}


def populate(tenant: Tenant, marker: str, n: int) -> dict:
    """One of every record, each showing `marker` wherever it prints a name."""
    creditor = Creditor.objects.create(tenant=tenant, name=f"Credor {marker}", max_installments=12)
    client = Client.objects.create(
        tenant=tenant, creditor=creditor, name=f"Cliente {marker}", cpf=valid_cpf(n), external_id=f"EXT-{marker}"
    )
    phone = ClientPhone.objects.create(tenant=tenant, client=client, number=f"+551198765{n:04d}", kind="celular")
    debt = Debt.objects.create(
        tenant=tenant,
        client=client,
        contract_code=f"CT-{marker}",
        due_date=datetime.date.today() - datetime.timedelta(days=40),
        original_amount=Decimal("250.00"),
    )
    Client.objects.filter(pk=client.pk).refresh_summaries()
    users = {}
    for role in ROLES:
        user = User.objects.create_user(
            username=f"{role}-{tenant.slug}",
            password=PASSWORD,
            is_staff=role != Role.OPERATOR,
            first_name=f"Usuário {marker}",
        )
        Membership.objects.create(user=user, tenant=tenant, role=role, threecplus_agent_id=f"{1000 + n}{len(role)}")
        users[role] = user
    operator = users[Role.OPERATOR]
    kind = DispositionType.objects.create(tenant=tenant, name=f"Tabulação {marker}", behavior="outro")
    disposition = CallDisposition.objects.create(
        tenant=tenant, client=client, operator=operator, type=kind, notes=f"Nota {marker}", call_id=f"call-{marker}"
    )
    agreement = Agreement.objects.create(
        tenant=tenant,
        client=client,
        creditor=creditor,
        operator=operator,
        status=Agreement.Status.PENDING_APPROVAL,
        principal=Decimal("250"),
        total=Decimal("250"),
        installments_count=1,
        first_due_date=datetime.date.today(),
        decision_note=f"Acordo {marker}",
    )
    installment = AgreementInstallment.objects.create(
        agreement=agreement, number=1, due_date=agreement.first_due_date, amount=250
    )
    payment = Payment.objects.create(
        tenant=tenant,
        client=client,
        debt=debt,
        paid_on=datetime.date.today(),
        amount=Decimal("10.00"),
        external_id=f"PAG-{marker}",
        notes=f"Pagamento {marker}",
    )
    message = Message.objects.create(
        tenant=tenant, client=client, direction="recebida", body=f"Mensagem {marker}", sent_at=timezone.now()
    )
    access = ClientAccessLog.objects.create(tenant=tenant, client=client, user=operator, call_id=f"call-{marker}")
    export = DialerExport.objects.create(
        tenant=tenant, campaign_id=1, campaign_name=f"Campanha {marker}", list_name=f"Lista {marker}"
    )
    item = DialerExportItem.objects.create(tenant=tenant, export=export, client=client, campaign_id=1)
    event = DialerCallEvent.objects.create(
        tenant=tenant, event="call-was-connected", call_id=f"call-{marker}", agent_id="9", client=client
    )
    recorded = DialerCallEvent.objects.create(
        tenant=tenant,
        event="call-history-was-created",
        call_id=f"{n:024x}",
        client=client,
        recording_url=f"https://{marker.lower()}.3c.plus/api/v1/calls/{n:024x}/recording",
    )
    qualification = Qualification.objects.create(
        tenant=tenant,
        remote_id=n,
        name=f"Qualificação {marker}",
        list_id=n,
        list_name=f"Lista {marker}",
        synced_at=timezone.now(),
    )
    QualificationMapping.objects.create(
        tenant=tenant, list_id=n, behavior=DispositionBehavior.OTHER, qualification=qualification
    )
    charge = Charge.objects.create(
        tenant=tenant,
        installment=installment,
        kind=Charge.Kind.PIX,
        txid=f"{marker.lower()}{n:026d}"[:35],
        amount=Decimal("250"),
        due_date=agreement.first_due_date,
        error=f"Cobrança {marker}",
    )
    received = ReceivedPayment.objects.create(
        tenant=tenant,
        source=ReceivedPayment.Source.WEBHOOK,
        external_id=f"E{marker}",
        amount=Decimal("5.00"),
        paid_on=datetime.date.today(),
        status=ReceivedPayment.Status.UNMATCHED,
        charge=charge,
        payment=payment,
        error=f"Sem vínculo {marker}",
    )
    audit = AuditEvent.objects.create(tenant=tenant, action="configuracoes", object_repr=f"Auditoria {marker}")
    delivery = WebhookDelivery.objects.create(
        tenant=tenant, event=f"evento-{marker}", result=WebhookDelivery.Result.UNUSED, body=f'{{"x": "{marker}"}}'
    )
    wallet_import = WalletImport.objects.create(
        tenant=tenant, file_name=f"carteira-{marker}.csv", requested_by=users[Role.ADMIN], status="concluida"
    )
    WalletImportError.objects.create(
        tenant=tenant, wallet_import=wallet_import, line=2, external_id=f"EXT-{marker}", message=f"Erro {marker}."
    )
    step = Step.objects.create(
        tenant=tenant,
        creditor=creditor,
        name=f"Passo {marker}",
        offset_days=1,
        template_name="cobranca_lembrete",
        text=f"Olá {marker}",
    )
    opt_out = OptOut.objects.create(tenant=tenant, client=client, channel="whatsapp", reason=f"PARAR {marker}")
    statement = Statement.objects.create(
        tenant=tenant, creditor=creditor, month=datetime.date(2026, 1, 1), received=Decimal("10.00")
    )
    StatementLine.objects.create(
        statement=statement,
        payment=payment,
        kind=StatementLine.Kind.RECEIVED,
        day=payment.paid_on,
        amount=payment.amount,
        principal=payment.amount,
        interest=0,
        fine=0,
        fees=0,
        credit=0,
    )
    return {
        "messaging.step": step,
        "messaging.optout": opt_out,
        "tenants.tenant": tenant,
        "statements.statement": statement,
        "core.creditor": creditor,
        "core.client": client,
        "core.clientphone": phone,
        "core.debt": debt,
        "auth.user": users[Role.OPERATOR],
        "attendance.dispositiontype": kind,
        "attendance.calldisposition": disposition,
        "attendance.agreement": agreement,
        "attendance.agreementinstallment": installment,
        "attendance.payment": payment,
        "attendance.message": message,
        "attendance.clientaccesslog": access,
        "dialer.dialerexport": export,
        "dialer.dialerexportitem": item,
        "dialer.dialercallevent": event,
        "recorded_call": recorded,
        "dialer.qualification": qualification,
        "tenants.auditevent": audit,
        "dialer.webhookdelivery": delivery,
        "payments.charge": charge,
        "payments.receivedpayment": received,
        "payments.unmatchedpayment": received,
        "core.walletimport": wallet_import,
        "users": users,
        "marker": marker,
    }


def snapshot(tenant) -> dict:
    """Every row of a tenant, as values: compared before and after the matrix."""
    models = [
        m
        for m in apps.get_models()
        if any(f.name == "tenant" for f in m._meta.fields) and m._meta.label not in LOGS_OF_PUBLIC_ENDPOINTS
    ]
    rows = {m._meta.label: sorted(map(repr, m.objects.filter(tenant=tenant).values())) for m in models}
    rows["tenant"] = [repr(Tenant.objects.filter(pk=tenant.pk).values().first())]
    fields = ("id", "username", "password", "first_name", "email", "is_active", "is_staff", "is_superuser")
    rows["users"] = sorted(map(repr, User.objects.filter(membership__tenant=tenant).values(*fields)))
    return rows


PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def admin_model_label(name: str, route: str) -> str | None:
    """The model an admin URL belongs to: from its name (admin:core_client_change) or its route."""
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def fill(route: str, name: str, world: dict) -> str:
    """A concrete path for the route, pointing at `world`'s records."""
    if route.startswith("admin/r/"):  # view_on_site: content type, then the object
        return f"/admin/r/{ContentType.objects.get_for_model(Client).pk}/{world['core.client'].pk}/"
    label = admin_model_label(name, route)

    def value(match):
        param = match.group(2) or match.group(3)
        if param in ("object_id", "pk", "id"):
            record = world.get(label)
            if record is None:
                model = apps.get_model(label)
                record = model.objects.order_by("pk").first()
            return str(record.pk) if record is not None else "999999"
        if param == "client_id":
            return str(world["core.client"].pk)
        if param == "agreement_id":
            return str(world["attendance.agreement"].pk)
        if param == "disposition_id":
            return str(world["attendance.calldisposition"].pk)
        if param == "call":
            return str(world["recorded_call"].pk)
        if param == "message_id":
            return str(world["attendance.message"].pk)
        if param == "tenant_id":  # the WhatsApp and SMS webhooks: signed, never a page of the tenant
            return str(world["tenants.tenant"].pk)
        if param == "phone_id":
            return str(world["core.clientphone"].pk)
        if param == "secret":
            return world["tenants.tenant"].webhook_secret
        if param == "content_type_id":
            return str(ContentType.objects.get_for_model(Client).pk)
        if param == "path":
            return "campaigns"
        if param == "app_label":
            return "core"
        if param == "url":
            return "inexistente/"
        raise AssertionError(f"Parâmetro de URL sem valor no teste de isolamento: {param} em {route}")

    path = "/" + PARAM.sub(value, route)
    return path.replace("^", "").replace("$", "")


@pytest.fixture
def worlds():
    alfa = Tenant.objects.create(name="Agência Alfa", slug="alfa")
    beta = Tenant.objects.create(name="Agência Beta", slug="beta")
    return {alfa.slug: populate(alfa, "ALFA-SIGILO", 1), beta.slug: populate(beta, "BETA-SIGILO", 2)}


# Related models that hold no tenant's data: any id of theirs may be shown to anyone.
GLOBAL_MODELS = {"auth.group", "auth.permission", "contenttypes.contenttype"}


@pytest.fixture
def root(db):
    """A superuser without a tenant: a tenant's staff never learns its username."""
    return User.objects.create_superuser(username="raiz-SIGILO-GLOBAL", password=PASSWORD)


def relation_fields(model):
    """Every foreign key, one-to-one and many-to-many declared on the model (the ones a form can prefill)."""
    fields = model._meta.get_fields()
    return [f for f in fields if f.is_relation and not f.auto_created and (f.concrete or f.many_to_many)]


def foreign_ids(field, other: dict, root) -> list[str]:
    """Ids of the other tenant's records (and of the superuser) that the field can point at."""
    label = field.related_model._meta.label_lower
    if label == "auth.user":
        return [str(user.pk) for user in (*other["users"].values(), root)]
    if label in other:
        return [str(other[label].pk)]
    where = f"{field.model._meta.label}.{field.name}"
    raise AssertionError(f"Campo {where} aponta para {label}: ensine o teste de isolamento a preenchê-lo")


def revealing(world: dict, root) -> list[str]:
    """What must never appear on the other tenant's pages: its records, its users' names, the superuser's."""
    usernames = [user.username for user in world["users"].values()]
    return [world["marker"], world["tenants.tenant"].name, *usernames, root.username]


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and ("/entrar/" in response["Location"] or "/login/" in response["Location"])


# The matrix's cases, generated at collection: one per identity (3 roles × 2 tenants + anonymous), so that xdist
# spreads them over its workers. Each case requests every URL, by GET and POST, with the other tenant's records.
ROUTES = [(route, name) for route, name, _view in walk() if not route.startswith("static/")]
IDENTITIES = [(slug, role) for slug in ("alfa", "beta") for role in ROLES] + [(None, None)]


def identity_id(identity) -> str:
    slug, role = identity
    return f"{role}-{slug}" if slug else "anonimo"


def test_the_url_walk_finds_every_url():
    assert len(ROUTES) > 100  # the admin alone has more: a broken walk must not pass quietly
    assert len(IDENTITIES) == 7


@pytest.mark.parametrize(("slug", "role"), IDENTITIES, ids=map(identity_id, IDENTITIES))
def test_every_url_role_and_tenant(worlds, root, slug, role, tally):
    """The matrix: (URL × method) × (3 roles × 2 tenants + anonymous), each with the other tenant's records."""
    routes = ROUTES
    cases = 0
    problems = []
    http = HttpClient()
    if slug:
        http.force_login(worlds[slug]["users"][role])
    mine = worlds[slug or "alfa"]
    other = worlds["beta" if slug == "alfa" else "alfa"] if slug else worlds["beta"]
    untouchable = [w["tenants.tenant"] for w in worlds.values() if w is not mine or slug is None]
    before = [snapshot(t) for t in untouchable]
    for route, name in routes:
        path = fill(route, name, other)
        for method in ("get", "post"):
            cases += 1
            response = getattr(http, method)(path)
            if name in ("logout", "admin:logout") and slug:
                http.force_login(worlds[slug]["users"][role])  # carry on as the same identity
            status = response.status_code
            body = response.content.decode(errors="replace") if not response.streaming else ""
            where = f"{method.upper()} {path} ({name or route}) como {role or 'anônimo'} de {slug or '-'}: {status}"
            if status >= 500 and name != "healthz":  # healthz answers 503 while no worker runs
                problems.append(f"erro {where}")
            shown = [text for text in revealing(other, root) if text in body]
            if slug and shown:
                problems.append(f"dado da outra empresa ({shown}) em {where}")
            if name in PUBLIC or route.startswith("admin/r/"):
                continue  # public by design; view_on_site only redirects to a page that answers 404
            if slug is None:
                if not (is_login_redirect(response) or status in (403, 404, 405)):
                    problems.append(f"anônimo alcançou {where}")
                continue
            if role == Role.OPERATOR and route.startswith("admin/") and status == 200:
                problems.append(f"operador no admin: {where}")
            takes_record = bool(PARAM.search(route)) and not route.startswith(("admin/^", "admin/(?P<url>"))
            label = admin_model_label(name, route)
            reachable = status not in (302, 403, 404, 405)
            if takes_record and reachable and (label is None or label in other):
                problems.append(f"registro da outra empresa alcançável: {where}")
            if (
                role == Role.SUPERVISOR
                and label in ADMIN_ONLY_MODELS
                and status == 200
                and not route.endswith("autocomplete/")
            ):
                problems.append(f"supervisor em página de administrador: {where}")
    cases += check_admin_actions(http, mine, other, slug, role, problems)
    for tenant, rows_before in zip(untouchable, before, strict=True):
        rows_after = snapshot(tenant)
        for table, rows in rows_before.items():
            if rows != rows_after[table]:
                changed = sorted(set(rows_after[table]) ^ set(rows))[:2]
                problems.append(f"{role or 'anônimo'} de {slug or '-'} alterou {tenant.slug} em {table}: {changed}")
    tally(f"Matriz de isolamento ({len(routes)} URLs, uma identidade por caso)", {"requisições verificadas": cases})
    print(
        f"\nMatriz de isolamento: {len(routes)} URLs como {identity_id((slug, role))}, {cases} requisições verificadas"
    )
    assert not problems, "\n".join(problems[:40])


def check_admin_actions(http, mine, other, slug, role, problems) -> int:
    """Each admin action posted with the other tenant's ids changes nothing and shows nothing of it."""
    cases = 0
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        if label not in other:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for action in [*(model_admin.actions or []), "delete_selected"]:
            action_name = action if isinstance(action, str) else action.__name__
            cases += 1
            response = http.post(
                url, {"action": action_name, "_selected_action": [other[label].pk], "post": "yes", "confirm": "1"}
            )
            body = response.content.decode(errors="replace")
            if response.status_code >= 500 or (slug and other["marker"] in body):
                problems.append(f"ação {action_name} em {url} como {role} de {slug}: {response.status_code}")
    return cases


# Every relation field of every registered admin's model (but the global ones), generated at collection.
FIELDS = [
    (model, field)
    for model in admin.site._registry
    for field in relation_fields(model)
    if field.related_model._meta.label_lower not in GLOBAL_MODELS
]
STAFF = [(slug, role) for slug in ("alfa", "beta") for role in ROLES]


def test_the_relation_fields_are_found():
    assert len(FIELDS) > 20  # a broken enumeration must not pass quietly


@pytest.mark.parametrize(("slug", "role"), STAFF, ids=map(identity_id, STAFF))
def test_every_foreign_key_in_the_query_string(worlds, root, slug, role, tally):
    """Every add and change page, prefilled from the query string with the other tenant's ids in each relation
    field, and every autocomplete of those fields: nothing of the other tenant (nor a superuser) is shown.
    One case per tenant and role."""
    cases = 0
    problems = []
    fields = FIELDS
    world = worlds[slug]
    other = worlds["beta" if slug == "alfa" else "alfa"]
    hidden = revealing(other, root)
    http = HttpClient()
    http.force_login(world["users"][role])
    for model, field in fields:
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        own = world.get(opts.label_lower) or model.objects.filter(tenant=world["tenants.tenant"]).first()
        pages = [f"{base}add/"] + ([f"{base}{own.pk}/change/"] if own is not None else [])
        ids = foreign_ids(field, other, root)
        # Prefilled by the query string, and posted back (a rejected form prints what was sent).
        requests = [("get", page, {field.name: value}) for page in pages for value in ids]
        requests += [("post", pages[0], {field.name: value}) for value in ids]
        if field.many_to_many:
            requests += [("get", page, {field.name: ",".join(ids)}) for page in pages]
        autocomplete = {"app_label": opts.app_label, "model_name": opts.model_name, "field_name": field.name}
        terms = ("", other["marker"])
        requests += [("get", "/admin/autocomplete/", {**autocomplete, "term": term}) for term in terms]
        for method, path, query in requests:
            cases += 1
            response = getattr(http, method)(path, query)
            body = response.content.decode(errors="replace")
            where = f"{method.upper()} {path} {query} como {role} de {slug}: {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"erro {where}")
            shown = [text for text in hidden if text in body]
            if shown:
                problems.append(f"{shown} em {where}")
    tally(
        f"Matriz de chaves estrangeiras ({len(fields)} campos, uma identidade por caso)",
        {"requisições verificadas": cases},
    )
    print(
        f"\nMatriz de chaves estrangeiras: {len(fields)} campos como {role} de {slug}, {cases} requisições verificadas"
    )
    assert not problems, "\n".join(problems[:40])


def test_autocomplete_and_exports_show_only_the_own_tenant(worlds):
    alfa, beta = worlds["alfa"], worlds["beta"]
    http = HttpClient()
    http.force_login(alfa["users"][Role.SUPERVISOR])
    found = http.get(
        "/admin/autocomplete/",
        {"term": "SIGILO", "app_label": "core", "model_name": "client", "field_name": "creditor"},
    ).json()
    assert [r["text"] for r in found["results"]] == [f"Credor {alfa['marker']}"]

    http.force_login(alfa["users"][Role.ADMIN])
    for url in (
        "/admin/core/client/export/",
        "/admin/attendance/message/export/",
        "/admin/tenants/auditevent/export/",
        "/admin/attendance/clientaccesslog/export/",
    ):
        form = http.get(url).context["form"]
        data = {"format": "0", **{k: "on" for k, f in form.fields.items() if isinstance(f, BooleanField)}}
        if "resource" in form.fields:
            data["resource"] = "0"
        response = http.post(url, data)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        text = content.decode("utf-8-sig", errors="replace")
        assert response.status_code == 200, url
        assert alfa["marker"] in text, f"{url} exportou sem os próprios dados"
        assert beta["marker"] not in text, f"{url} exportou dados da outra empresa"


def test_webhook_never_ties_an_event_to_another_tenants_client(client, worlds):
    alfa, beta = worlds["alfa"], worlds["beta"]
    body = {"call": {"id": "c-cross", "identifier": str(beta["core.client"].pk), "phone": "5511987650002"}}
    response = client.post(
        f"/dialer/webhooks/3cplus/{alfa['tenants.tenant'].webhook_secret}/",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 201
    event = DialerCallEvent.objects.get(call_id="c-cross")
    assert event.tenant == alfa["tenants.tenant"]
    assert event.client is None  # beta's client id and beta's phone mean nothing to alfa
