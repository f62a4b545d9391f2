"""Each request the client sends, checked against the 3C Plus contract this product relies on.

The contract is kept in the repository (threecplus_contract.py); where the official swagger is present
(../shared/3cplus/swagger.json) the contract itself is compared with it.
"""

import datetime
import json
import os
import re
from pathlib import Path

import pytest

from dialer.errors import NotFoundError
from tests.dialer import threecplus_contract as contract
from tests.dialer.conftest import AGENT_TOKEN

# ../shared beside the project, or wherever THREECPLUS_SWAGGER points (a git worktree lives elsewhere).
SWAGGER = Path(
    os.environ.get("THREECPLUS_SWAGGER") or Path(__file__).resolve().parents[3] / "shared" / "3cplus" / "swagger.json"
)


def template_pattern(template: str) -> str:
    return "^" + re.sub(r"\\\{[^/]+?\\\}", r"[^/]+", re.escape(template)) + "$"


def operation_for(method, path):
    for (op_method, template), operation in contract.OPERATIONS.items():
        if op_method == method and re.match(template_pattern(template), path):
            return template, operation
    return None, None


def exercise_every_method(make_dialer_api):
    manager = make_dialer_api()
    campaigns = manager.list_campaigns(paused=False, search="Cobrança")
    campaign_id = campaigns[0]["id"]
    manager.get_campaign(campaign_id)
    mailing_list = manager.create_list(campaign_id, "Contrato")
    manager.list_lists(campaign_id)
    manager.add_mailing(campaign_id, mailing_list["id"], [{"phone": "11987654321", "identifier": "1", "data": {}}])
    manager.delete_mailing(campaign_id, [{"phone": "11987654321", "identifier": "1"}])
    manager.update_list_weight(campaign_id, mailing_list["id"], 3)
    qualification_list = manager.list_qualification_lists()[0]
    qualification = manager.list_qualifications(qualification_list["id"])[0]
    agent = make_dialer_api(token=AGENT_TOKEN, agent_id="1002")
    agent.qualify_call("call:1:2:3", qualification["id"], note="n", callback_at=datetime.datetime(2026, 12, 1, 9, 0))
    agent.qualify_call("tel-1", qualification["id"], manual=True, note="n")
    manager.calls_page("2026-12-01 00:00:00", "2026-12-01 23:59:59", campaigns=[campaign_id], page=1)
    with pytest.raises(NotFoundError):  # the request is what is checked here; the sandbox has no such call
        manager.recording("0123456789abcdef01234567", "bytes=0-99")
    return campaigns[0], mailing_list, qualification_list, qualification


def test_every_request_matches_the_contract(make_dialer_api, sandbox):
    campaign, mailing_list, qualification_list, qualification = exercise_every_method(make_dialer_api)
    checked = set()
    for request in sandbox.requests:
        template, operation = operation_for(request["method"], request["path"])
        assert operation is not None, f"{request['method']} {request['path']} não está no contrato"
        params = operation["params"]
        body_params = [p for p in params if p[1] == "body"]
        form_params = {name: required for name, where, required in params if where == "formData"}
        if body_params:
            assert request["content_type"] == "application/json" in contract.consumes(operation), template
            assert isinstance(request["body"], list) and request["body"], "the body is a JSON array"
            definition = contract.DEFINITIONS[operation["body_items"]]
            for item in request["body"]:
                assert definition["required"] <= set(item) <= definition["properties"], (template, item)
        else:
            assert request["content_type"] in (*contract.consumes(operation), ""), template
            assert {name for name, required in form_params.items() if required} <= set(request["body"]), template
            assert set(request["body"]) <= set(form_params), (template, set(request["body"]) - set(form_params))
        declared_query = {name for name, where, _required in params if where == "query"}
        # An array goes as name[]=…&name[]=… (how 3C Plus, a Laravel application, reads arrays).
        arrays = operation.get("array_query", set())
        sent = {name.removesuffix("[]") if name.removesuffix("[]") in arrays else name for name in request["query"]}
        assert sent <= declared_query | contract.PAGINATION_QUERY, template
        checked.add((request["method"], template))
    assert checked == set(contract.OPERATIONS)
    # The answers the product reads carry the fields the contract says it relies on.
    for definition, seen in (
        ("Campaign", campaign),
        ("MailingList", mailing_list),
        ("QualificationList", qualification_list),
        ("Qualification", qualification),
    ):
        assert contract.DEFINITIONS[definition]["properties"] <= set(seen), definition


@pytest.fixture(scope="module")
def swagger():
    if not SWAGGER.exists():
        pytest.skip(f"swagger oficial ausente em {SWAGGER}: só o contrato do repositório foi verificado")
    return json.loads(SWAGGER.read_text())


def test_the_contract_agrees_with_the_official_swagger(swagger):
    assert swagger["basePath"] == contract.BASE_PATH
    assert tuple(swagger["consumes"]) == contract.DEFAULT_CONSUMES
    for (method, template), operation in contract.OPERATIONS.items():
        path_item = swagger["paths"].get(template) or {}
        official = path_item.get(method.lower())
        assert official is not None, f"{method} {template} sumiu do swagger"
        declared = path_item.get("parameters", []) + official.get("parameters", [])
        assert {(p["name"], p["in"], bool(p.get("required"))) for p in declared} == operation["params"], template
        assert tuple(official.get("consumes") or swagger["consumes"]) == contract.consumes(operation), template
        ok = official["responses"].get("200")
        if operation["response"] is None:
            assert "204" in official["responses"], template
        elif operation["response"] == contract.FILE:
            assert "schema" not in ok and "Content-type" in ok["headers"], template
        else:
            assert ok["schema"]["$ref"] == f"#/definitions/{operation['response']}", template
        for name in operation.get("array_query", ()):
            (array,) = (p for p in declared if p["name"] == name)
            assert array["type"] == "array", (template, name)
        if "body_items" in operation:
            (body,) = (p for p in declared if p["in"] == "body")
            assert body["schema"]["items"]["$ref"] == f"#/definitions/{operation['body_items']}", template
    for name, expected in contract.DEFINITIONS.items():
        definition = swagger["definitions"][name]
        assert expected["properties"] <= set(definition["properties"]), name
        assert set(definition.get("required", [])) == expected["required"], name
