"""Each request the client sends, checked against the official OpenAPI file (../shared/3cplus/swagger.json)."""

import datetime
import json
import re
from pathlib import Path

import pytest

from tests.dialer.conftest import AGENT_TOKEN

SWAGGER = Path(__file__).resolve().parents[3] / "shared" / "3cplus" / "swagger.json"


@pytest.fixture(scope="module")
def swagger():
    if not SWAGGER.exists():
        pytest.fail(f"O contrato do 3C Plus não está em {SWAGGER}")
    return json.loads(SWAGGER.read_text())


def operation_for(swagger, method, path):
    for template, operations in swagger["paths"].items():
        pattern = (
            "^" + re.sub(r"\{[^/]+\}", r"[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        )
        if re.match(pattern, path) and method.lower() in operations:
            op = operations[method.lower()]
            common = operations.get("parameters", [])
            return template, op, common + op.get("parameters", [])
    return None, None, None


def exercise_every_method(make_dialer_client):
    manager = make_dialer_client()
    campaigns = manager.list_campaigns(paused=False, search="Cobrança")
    campaign_id = campaigns[0]["id"]
    manager.get_campaign(campaign_id)
    mailing_list = manager.create_list(campaign_id, "Contrato")
    manager.list_lists(campaign_id)
    manager.add_mailing(campaign_id, mailing_list["id"], [{"phone": "11987654321", "identifier": "1", "data": {}}])
    manager.update_list_weight(campaign_id, mailing_list["id"], 3)
    qualification_list = manager.list_qualification_lists()[0]
    qualification = manager.list_qualifications(qualification_list["id"])[0]
    agent = make_dialer_client(token=AGENT_TOKEN, agent_id="1002")
    agent.qualify_call("call:1:2:3", qualification["id"], note="n", callback_at=datetime.datetime(2026, 12, 1, 9, 0))
    agent.qualify_call("tel-1", qualification["id"], manual=True, note="n")


def test_every_request_matches_the_swagger(make_dialer_client, sandbox, swagger):
    exercise_every_method(make_dialer_client)
    assert len(sandbox.requests) >= 10
    checked = set()
    for request in sandbox.requests:
        template, op, params = operation_for(swagger, request["method"], request["path"])
        assert op is not None, f"{request['method']} {request['path']} não existe no swagger"
        consumes = op.get("consumes") or swagger.get("consumes") or []
        body_params = [p for p in params if p["in"] == "body"]
        form_params = [p for p in params if p["in"] == "formData"]
        if body_params:
            assert request["content_type"] == "application/json" and "application/json" in consumes, template
            assert isinstance(request["body"], list), "mailing.json takes a JSON array"
        elif form_params:
            assert request["content_type"] in consumes, (template, request["content_type"], consumes)
            for param in form_params:
                if param.get("required"):
                    assert param["name"] in request["body"], (template, param["name"])
            unknown = set(request["body"]) - {p["name"] for p in form_params}
            assert not unknown, (template, unknown)
        for param in params:
            if param["in"] == "query" and param.get("required"):
                assert param["name"] in request["query"], (template, param["name"])
        declared_query = {p["name"] for p in params if p["in"] == "query"}
        # page/per_page are the documented pagination controls (info.description), not per-operation params.
        assert set(request["query"]) - declared_query <= {"page", "per_page"}, template
        checked.add(f"{request['method']} {template}")
    assert checked >= {
        "GET /campaigns",
        "GET /campaigns/{campaign-id}",
        "POST /campaigns/{campaign-id}/lists",
        "GET /campaigns/{campaign-id}/lists",
        "POST /campaigns/{campaign-id}/lists/{list-id}/mailing.json",
        "PUT /campaigns/{campaign-id}/lists/{list-id}/updateWeight",
        "GET /qualification_lists",
        "GET /qualification_lists/{qualification-list-id}/qualifications",
        "POST /agent/call/{call-id}/qualify",
        "POST /agent/manual_call/{call-id}/qualify",
    }
