"""Bad input never breaks or half-writes: property-based tests (hypothesis).

Every generated input must give a valid result or a clear Portuguese error: never an unexpected
exception, never a 500, never part of a record written. The number of inputs each property tried is
summed over the tests and printed at the end of the run.
"""

import collections
import datetime
import json
import string
from decimal import Decimal

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from stdnum.br import cpf as stdnum_cpf

from attendance.models import Agreement, AgreementInstallment
from attendance.negotiation import NegotiationError, OpenDebt, Proposal, Rules, simulate
from common.parsing import format_brl, parse_cpf, parse_money, parse_phone
from core.importing import TEMPLATE_HEADERS, _cell, import_wallet_rows
from core.models import Client, ClientPhone, Debt
from core.seeding import cpf_check_digits
from dialer.models import DialerCallEvent

TRIED = collections.Counter()
FAST = hypothesis_settings(max_examples=400, deadline=None)
DB = hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PAGES = hypothesis_settings(DB, max_examples=40)  # each example renders several pages

# Text that looks like what people paste: digits and punctuation most of the time, anything sometimes.
typed = st.one_of(
    st.text(alphabet=string.digits + " .-/()+,", max_size=25),
    st.text(max_size=40),
    st.integers().map(str),
)


@pytest.fixture(autouse=True)
def report_tried(tally):
    """What each property tried, summed at the end of the run over the tests (and the xdist workers)."""
    before = TRIED.copy()
    yield
    tried = TRIED - before
    tally("Entradas geradas pelos testes de propriedade", {"entradas": sum(tried.values()), **tried})


def is_portuguese_error(error: ValidationError) -> bool:
    return all(message and message[0].isupper() for message in error.messages)


@FAST
@given(typed)
def test_cpf_is_valid_or_a_clear_error(text):
    TRIED["cpf"] += 1
    try:
        digits = parse_cpf(text)
    except ValidationError as error:
        assert is_portuguese_error(error) and "CPF" in " ".join(error.messages)
    else:
        assert len(digits) == 11 and digits.isdigit() and stdnum_cpf.is_valid(digits)


CPF_SHAPES = [
    lambda d: d,
    lambda d: f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}",
    lambda d: f" {d[:3]} {d[3:6]} {d[6:9]} {d[9:]} ",
    lambda d: d.lstrip("0"),  # a spreadsheet that ate the leading zeros
]


@FAST
@given(st.integers(min_value=0, max_value=999_999_999), st.sampled_from(CPF_SHAPES))
def test_every_valid_cpf_is_accepted_in_any_punctuation(base, shape):
    TRIED["cpf"] += 1
    digits = f"{base:09d}"
    digits += cpf_check_digits(digits)
    assume(len(set(digits)) > 1)  # 111.111.111-11 has valid check digits but is refused, as Receita does
    assert parse_cpf(shape(digits)) == digits


@FAST
@given(typed)
def test_phone_is_e164_or_a_clear_error(text):
    TRIED["telefone"] += 1
    try:
        e164 = parse_phone(text)
    except ValidationError as error:
        assert is_portuguese_error(error) and "Telefone" in " ".join(error.messages)
    else:
        number = phonenumbers.parse(e164)
        assert e164.startswith("+") and phonenumbers.is_valid_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == e164


@FAST
@given(typed)
def test_money_is_two_places_or_a_clear_error(text):
    TRIED["dinheiro"] += 1
    try:
        amount = parse_money(text)
    except ValidationError as error:
        assert is_portuguese_error(error)
    else:
        assert isinstance(amount, Decimal) and amount >= 0 and amount == amount.quantize(Decimal("0.01"))


@FAST
@given(st.decimals(min_value=0, max_value=Decimal("999999999.99"), places=2))
def test_money_written_the_brazilian_way_reads_back(amount):
    TRIED["dinheiro"] += 1
    written = format_brl(amount).replace("R$", "").strip()  # 1.234,56
    assert parse_money(written) == amount


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500000"), places=2)
percent = st.decimals(min_value=0, max_value=100, places=2)


@FAST
@given(
    debts=st.lists(st.tuples(money, st.integers(min_value=-400, max_value=4000)), max_size=6),
    rules=st.builds(
        Rules,
        max_discount_percent=percent,
        max_installments=st.integers(1, 120),
        min_installment_amount=money,
        min_entry_percent=percent,
        monthly_interest_percent=st.decimals(min_value=0, max_value=20, places=2),
        fine_percent=st.decimals(min_value=0, max_value=20, places=2),
    ),
    discount=st.decimals(min_value=-10, max_value=110, places=2),
    installments=st.integers(-2, 200),
    entry=st.decimals(min_value=-100, max_value=Decimal("900000"), places=2),
    first_due_in=st.integers(-10, 400),
)
def test_negotiation_adds_up_or_refuses_clearly(debts, rules, discount, installments, entry, first_due_in):
    TRIED["negociação"] += 1
    today = datetime.date(2026, 11, 29)
    proposal = Proposal(discount, installments, entry, today + datetime.timedelta(days=first_due_in))
    open_debts = [OpenDebt(amount, today - datetime.timedelta(days=days)) for amount, days in debts]
    try:
        result = simulate(open_debts, rules, proposal, today)
    except NegotiationError as error:
        assert str(error)[0].isupper()
        return
    amounts = [part.amount for part in result.installments]
    assert sum(amounts) == result.total
    assert all(a >= 0 and a == a.quantize(Decimal("0.01")) for a in amounts)
    assert result.total == result.principal + result.interest + result.fine - result.discount_amount
    assert [p.due_date for p in result.installments] == sorted(p.due_date for p in result.installments)
    assert result.within_limits == (not result.violations)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
call_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "telephony_id": json_values,
        "phone": json_values,
        "identifier": json_values,
        "agent": json_values,
        "call_mode": json_values,
        "status": json_values,
        "campaign_id": json_values,
    },
)
history_like = st.fixed_dictionaries(
    {},
    optional={
        "_id": json_values,
        "number": json_values,
        "speaking_time": st.one_of(json_values, st.sampled_from(["inf", "-inf", "1e400", "nan", "00:99:99"])),
        "mailing_data": st.fixed_dictionaries({}, optional={"identifier": json_values, "phone": json_values}),
        "agent": json_values,
        "recording": json_values,
    },
)
identifiers = st.one_of(st.text(alphabet="0123456789²³¹٣५", max_size=25), st.integers().map(str))
event_payloads = st.one_of(
    st.fixed_dictionaries({"call": call_like, "mailing": json_values, "agent": json_values}),
    st.fixed_dictionaries({"call": st.fixed_dictionaries({"id": st.just("c1"), "identifier": identifiers})}),
    st.fixed_dictionaries({"callHistory": history_like}),
)
webhook_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"call-was-connected": st.fixed_dictionaries({"call": call_like}) | json_values}),
    event_payloads,
    st.fixed_dictionaries({"call-history-was-created": st.fixed_dictionaries({"callHistory": history_like})}),
    st.builds(  # relay envelopes
        lambda event_key, data_key, event, data: {event_key: event, data_key: data},
        st.sampled_from(["event", "event_type", "type", "evento"]),
        st.sampled_from(["data", "payload", "dados"]),
        st.sampled_from(["call-was-connected", "call_history_was_created", "outro"]) | json_values,
        event_payloads | json_values,
    ),
)
# Found by attacking the webhook: JSON the parser can read that the database or int() could not.
HOSTILE_BODIES = [
    '{"call": {"id": "c-big", "status": 1e309, "agent": 1e309}}',
    '{"callHistory": {"_id": "h-inf", "speaking_time": "inf"}}',
    '{"callHistory": {"_id": "h-400", "speaking_time": "1e400"}}',
    '{"callHistory": {"_id": "h-num", "speaking_time": 1e400}}',
    '{"call": {"id": "c-sur", "phone": "\\ud800", "identifier": "\\udfff"}}',
    '{"\\ud800": {"call": {"id": "c-key"}}}',
    '{"call": {"id": "c-sup", "identifier": "\u00b2"}}',
    '{"call": {"id": "c-huge", "identifier": "99999999999999999999999"}, "n": 123456789012345678901234567890}',
    '{"call": {"id": "c-nul\\u0000", "phone": "\\u0000"}}',
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 50_000 + "1" + "}" * 50_000,
    '{"event": "call-was-connected", "data": ' + '{"data": ' * 3000 + "{}" + "}" * 3000 + "}",
]


def is_json(payload) -> bool:
    def refuse(name):
        raise ValueError(name)

    try:
        json.loads(payload, parse_constant=refuse)
    except RecursionError:
        return True
    except ValueError:
        return False
    return True


def check_webhook_answer(client, tenant, payload):
    before = DialerCallEvent.objects.count()
    response = client.post(
        f"/dialer/webhooks/3cplus/{tenant.webhook_secret}/", payload, content_type="application/json"
    )
    if is_json(payload):  # 3C Plus switches off a webhook that keeps failing: valid JSON is always a 2xx
        assert response.status_code in (200, 201, 202), (response.status_code, response.content[:300])
    else:
        assert response.status_code == 400, response.content[:300]
        assert response.json()["erro"].endswith(".") and len(response.json()["erro"]) > 10
    assert DialerCallEvent.objects.count() - before == (1 if response.status_code == 201 else 0)


@pytest.mark.django_db
@DB
@given(body=webhook_bodies | st.binary(max_size=60).map(lambda raw: ("raw", raw)))
def test_webhook_answers_every_body_without_a_500(client, tenant, body):
    TRIED["webhook"] += 1
    check_webhook_answer(client, tenant, body[1] if isinstance(body, tuple) else json.dumps(body))


@pytest.mark.parametrize("payload", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_webhook_hostile_bodies_are_answered_not_crashed(client, tenant, payload):
    TRIED["webhook"] += 1
    check_webhook_answer(client, tenant, payload)


cell = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=string.digits + ".,-/ ", max_size=14),
    st.just(""),
    # What reaches an importer in real files: NUL bytes, a 128 KB cell, Windows-1252 text, US-style amounts.
    st.text(max_size=8).map(lambda text: text + "\x00"),
    st.just("x" * 128 * 1024),
    st.sampled_from(["João – “Joca”", "1,234.56", "1.234,56", '\'=HYPERLINK("x")', "=1+1"]),
)
import_rows = st.lists(
    st.fixed_dictionaries({header: cell for header in TEMPLATE_HEADERS}),
    min_size=1,
    max_size=6,
)


@pytest.mark.django_db
@DB
@given(rows=import_rows, valid_first=st.booleans())
def test_import_rows_import_whole_or_not_at_all(tenant, creditor, rows, valid_first):
    TRIED["importação"] += len(rows)
    if valid_first:  # one row that must import, so mixed files are tried too
        rows = [
            {
                **dict.fromkeys(TEMPLATE_HEADERS, ""),
                "external_id": "OK-1",
                "nome": "Linha Boa",
                "cpf": "529.982.247-25",
                "credor": creditor.name,
                "telefones": "(11) 98765-4321",
                "contrato": "C-1",
                "vencimento": "10/01/2026",
                "valor_original": "1.234,56",
            },
            *rows,
        ]
    counts = (Client.objects.count(), ClientPhone.objects.count(), Debt.objects.count())
    report = import_wallet_rows(tenant, enumerate(rows, start=2))
    assert report.rows == len(rows) and report.imported + len(report.errors) == len(rows)
    assert all(message.endswith(".") and "Traceback" not in message for _line, _id, message in report.errors)
    assert not [m for _l, _id, m in report.errors if "Erro ao gravar" in m], "the database refused a row"
    failed_lines = {line for line, _id, _m in report.errors}
    good_rows = [row for line, row in enumerate(rows, start=2) if line not in failed_lines]
    imported_ids = {_cell(row["external_id"]) for row in good_rows}
    # Every client written has its debts when its rows had them: no row half-written.
    for client in Client.objects.filter(tenant=tenant):
        mine = [r for r in good_rows if _cell(r["external_id"]) == client.external_id]
        has_debt_columns = any(_cell(r[c]) for r in mine for c in ("contrato", "vencimento", "valor_original"))
        assert client.debts.exists() == has_debt_columns
    new_clients = Client.objects.count() - counts[0]
    assert new_clients == len(imported_ids)
    if valid_first:
        assert "OK-1" in imported_ids and Client.objects.filter(external_id="OK-1").exists()
    Client.objects.all().delete()  # hypothesis reuses the test's transaction between examples


@pytest.mark.django_db
@DB
@given(
    form=st.fixed_dictionaries(
        {
            "discount_percent": typed,
            "installments": typed,
            "entry": typed,
            "first_due_date": st.one_of(typed, st.dates().map(str)),
        }
    )
)
def test_negotiation_form_never_500s_nor_half_writes_an_agreement(client, operator, make_client, form):
    TRIED["acordo (formulário)"] += 1
    wallet_client = make_client(debts=((Decimal("900.00"), 60),))
    client.force_login(operator)
    for url in ("simular", "acordo"):
        response = client.post(f"/atendimento/{wallet_client.pk}/{url}/", form, headers={"HX-Request": "true"})
        assert response.status_code in (200, 302), response.status_code
    agreements = Agreement.objects.filter(client=wallet_client)
    for agreement in agreements:
        parts = AgreementInstallment.objects.filter(agreement=agreement)
        assert sum(p.amount for p in parts) == agreement.total
        assert agreement.debts.exists()
    Agreement.objects.all().delete()
    Client.objects.all().delete()


settings_json = st.one_of(
    json_values.map(json.dumps),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(json.dumps),
    st.sampled_from(['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}', '{"a": "\\u0000"}']),
    st.integers(1, 3000).map(lambda depth: '{"a": ' + "[" * depth + "]" * depth + "}"),
    st.text(max_size=30),
)


@pytest.mark.django_db
@DB
@given(text=settings_json)
def test_settings_json_is_saved_storable_or_refused_in_portuguese(tenant, text):
    from tenants.admin import TenantForm
    from tenants.settings_schema import json_problem

    TRIED["configurações (JSON)"] += 1
    data = {"name": tenant.name, "slug": tenant.slug, "active": "on", "settings": text}
    form = TenantForm(data=data, instance=tenant)
    if form.is_valid():
        settings_value = form.cleaned_data["settings"]
        assert isinstance(settings_value, dict) and json_problem(settings_value) is None
        form.save()  # PostgreSQL accepts what was validated
        tenant.settings = {}
        tenant.save()
    else:
        messages = [str(m) for errors in form.errors.values() for m in errors]
        assert messages and all(m[0].isupper() for m in messages), messages


@pytest.mark.django_db
@PAGES
@given(
    form=st.fixed_dictionaries(
        {
            "discount_percent": st.sampled_from(["10", "1e400", "-0", "NaN", "100.001"]),
            "installments": st.sampled_from(["1", "6", "99999999999999999999", "1e3"]),
            "entry": st.one_of(
                st.sampled_from(["1e30", "999999999999999999,99", "1.000.000.000.000,00", "Infinity", "1e-400"]),
                st.decimals(allow_nan=False, allow_infinity=False).map(str),
            ),
            "first_due_date": st.one_of(
                st.dates(min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31)).map(str),
                st.sampled_from(["9999-12-31", "31/12/9999", "0001-01-01", "2026-02-30"]),
            ),
        }
    )
)
def test_negotiation_amounts_and_dates_out_of_range_are_form_errors(client, operator, make_client, form):
    TRIED["acordo (fora do intervalo)"] += 1
    wallet_client = make_client(debts=((Decimal("900.00"), 60),))
    client.force_login(operator)
    for url in ("simular", "acordo"):
        response = client.post(f"/atendimento/{wallet_client.pk}/{url}/", form, headers={"HX-Request": "true"})
        assert response.status_code in (200, 302), response.status_code
    for agreement in Agreement.objects.filter(client=wallet_client):
        assert agreement.first_due_date <= datetime.date.today() + datetime.timedelta(days=366)
        assert agreement.entry_amount < Decimal("1e12")
    Agreement.objects.all().delete()
    Client.objects.all().delete()


@pytest.mark.django_db
@PAGES
@given(
    before=st.one_of(
        st.text(max_size=30),
        st.sampled_from(["2026-13-45T00:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2026-02-30"]),
        st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)).map(
            lambda d: d.isoformat()
        ),
    )
)
def test_timeline_before_that_is_not_a_date_is_a_400_never_a_500(client, operator, make_client, before):
    TRIED["histórico ?before="] += 1
    wallet_client = make_client()
    client.force_login(operator)
    response = client.get(f"/atendimento/{wallet_client.pk}/historico/", {"before": before})
    assert response.status_code in (200, 400)
    Client.objects.all().delete()


@pytest.mark.django_db
@PAGES
@given(
    when=st.one_of(
        st.sampled_from(["9999-12-31T23:59", "31/12/9999 23:59", "0001-01-01T00:00", "2026-02-30T10:00"]),
        st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 31)).map(
            lambda d: d.strftime("%Y-%m-%dT%H:%M")
        ),
    )
)
def test_callbacks_outside_a_sane_window_are_refused_and_pages_keep_working(
    client, operator, supervisor, make_client, when
):
    import uuid

    from attendance.models import CallDisposition, DispositionType

    TRIED["retorno (data)"] += 1
    wallet_client = make_client()
    client.force_login(operator)
    kind = DispositionType.objects.get(tenant=None, behavior="retornar")
    data = {"type": kind.pk, "token": str(uuid.uuid4()), "callback_at": when}
    response = client.post(f"/atendimento/{wallet_client.pk}/tabular/", data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    for disposition in CallDisposition.objects.filter(client=wallet_client):
        assert disposition.callback_at <= datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=366)
    assert client.get(f"/atendimento/{wallet_client.pk}/").status_code == 200
    assert client.get("/atendimento/").status_code == 200
    assert client.get("/atendimento/retornos/").status_code == 200
    client.force_login(supervisor)
    assert client.get("/admin/attendance/calldisposition/").status_code == 200
    CallDisposition.objects.all().delete()
    Client.objects.all().delete()


def phonenumbers_reading(text: str):
    """What phonenumbers alone makes of a typed phone (E.164, mobile), or None if it is not a valid number."""
    try:
        number = phonenumbers.parse(text.strip(), "BR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    mobile = phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), mobile


PHONE_SHAPES = [
    lambda ddd, n: f"({ddd}) {n[:-4]}-{n[-4:]}",
    lambda ddd, n: f"{ddd}{n}",
    lambda ddd, n: f"+55 {ddd} {n}",
    lambda ddd, n: f"+55({ddd}){n[:-4]}.{n[-4:]}",
    lambda ddd, n: f"0{ddd} {n}",  # trunk prefix
    lambda ddd, n: f"0 41 {ddd} {n}",  # carrier code
    lambda ddd, n: f"55 {ddd} {n}",  # country code without +
    lambda ddd, n: f" {ddd} - {n} ",
]


@FAST
@given(
    st.one_of(
        typed,
        st.builds(
            lambda shape, ddd, n: shape(f"{ddd:02d}", n),
            st.sampled_from(PHONE_SHAPES),
            st.integers(0, 99),
            st.one_of(
                st.integers(0, 99_999_999).map("{:08d}".format), st.integers(0, 999_999_999).map("{:09d}".format)
            ),
        ),
    )
)
def test_the_quick_reading_of_brazilian_phones_agrees_with_phonenumbers(text):
    """Plain Brazilian numbers skip phonenumbers.parse (most of an import's time): same result either way."""
    TRIED["telefone"] += 1
    from common.parsing import parse_phone_and_kind

    try:
        ours = parse_phone_and_kind(text)
    except ValidationError:
        ours = None
    assert ours == phonenumbers_reading(text), text
