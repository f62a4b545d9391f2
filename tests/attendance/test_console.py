"""The operator's console (/atendimento/): agent id, client search, unknown numbers, callbacks."""

import datetime
import json

import pytest
from django.utils import timezone

from attendance.models import CallDisposition, DispositionType
from dialer.models import DialerCallEvent
from tenants.models import Membership


@pytest.fixture
def agent_operator(operator):
    Membership.objects.filter(user=operator).update(threecplus_agent_id="1001")
    operator.refresh_from_db()
    return operator


def test_console_shows_the_operators_agent_id(client, agent_operator):
    client.force_login(agent_operator)
    html = client.get("/atendimento/").content.decode()
    assert "Agente 1001 no 3C Plus" in html
    assert "ainda não tem o ID de agente" not in html


@pytest.mark.parametrize(
    "term",
    [
        "Joana",
        "joana devedora",
        "{cpf}",
        "{formatted_cpf}",
        "(11) 98765-4321",
        "11987654321",
        "+55 11 98765-4321",
        "5511987654321",
        "011 98765 4321",
    ],
)
def test_search_by_name_cpf_or_phone_in_any_format(client, agent_operator, make_client, other_tenant, term):
    wanted = make_client(name="Joana Devedora", phones=("+5511987654321",))
    make_client(name="Pedro Pagador", phones=("+5511933334444",))
    make_client(tenant=other_tenant, name="Joana Devedora de Outra", phones=("+5511987654321",))
    client.force_login(agent_operator)
    term = term.format(cpf=wanted.cpf, formatted_cpf=wanted.formatted_cpf)
    response = client.get("/atendimento/", {"q": term})
    found = response.context["found"]
    assert [c.pk for c in found] == [wanted.pk]
    html = response.content.decode()
    assert f'href="/atendimento/{wanted.pk}/"' in html
    assert "Pedro Pagador" not in html and "de Outra" not in html


def test_search_without_a_match_says_so(client, agent_operator, make_client):
    make_client(name="Joana Devedora")
    client.force_login(agent_operator)
    html = client.get("/atendimento/", {"q": "Zuleica"}).content.decode()
    assert "Nenhum cliente encontrado." in html


def test_unknown_number_call_offers_the_search_and_it_finds_the_client_by_phone(
    client, agent_operator, make_client, tenant
):
    """The call arrived before the client's phone was known; by the poll the phone leads to them."""
    client.force_login(agent_operator)
    first = json.loads(client.get("/atendimento/proxima-ligacao/").content)
    DialerCallEvent.objects.create(
        tenant=tenant, event="call-was-connected", call_id="C-77", agent_id="1001", phone="5511955556666", raw={}
    )
    call = json.loads(client.get("/atendimento/proxima-ligacao/", {"depois": first["ultimo"]}).content)["chamada"]
    assert "url" not in call and call["telefone"] == "(11) 95555-6666"
    joana = make_client(name="Joana Devedora", phones=("+5511955556666",))
    response = client.get("/atendimento/", {"q": call["telefone"]})
    assert [c.pk for c in response.context["found"]] == [joana.pk]
    call = json.loads(client.get("/atendimento/proxima-ligacao/", {"depois": first["ultimo"]}).content)["chamada"]
    assert call["url"] == f"/atendimento/{joana.pk}/?call_id=C-77"


def test_console_lists_upcoming_callbacks_not_only_todays(client, agent_operator, make_client, tenant):
    joana, pedro = make_client(name="Joana Devedora"), make_client(name="Pedro Pagador")
    kind = DispositionType.objects.get(tenant=None, behavior="retornar")
    for who, days in ((joana, 3), (pedro, -1)):
        CallDisposition.objects.create(
            tenant=tenant,
            client=who,
            operator=agent_operator,
            type=kind,
            callback_at=timezone.now() + datetime.timedelta(days=days),
        )
    client.force_login(agent_operator)
    for url in ("/atendimento/", "/atendimento/retornos/"):
        html = client.get(url).content.decode()
        assert "Joana Devedora" in html and "Pedro Pagador" in html, url
        assert html.index("Pedro Pagador") < html.index("Joana Devedora"), "overdue first"
