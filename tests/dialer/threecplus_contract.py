"""The part of the 3C Plus API this product uses, as the official swagger (2.0) states it.

Kept in the repository so the contract tests run in any clone; `test_contract.py` compares it with the
full swagger.json wherever that file is present (../shared/3cplus/), so a change upstream shows up.

Each operation: the parameters (name, where, required), the content types it consumes (the swagger's
global default is form-urlencoded), and the definition its 200 answers with. DEFINITIONS lists, for the
objects we send or read, the properties we rely on and which of them the swagger marks required.
"""

BASE_PATH = "/api/v1"
DEFAULT_CONSUMES = ("application/x-www-form-urlencoded",)
JSON = ("application/json",)

# Documented once in info.description, not per operation: every list endpoint pages with these.
PAGINATION_QUERY = frozenset({"page", "per_page"})

# An answer that is a file (a recording), not JSON: the swagger gives it no schema.
FILE = "file"

CAMPAIGN_ID = ("campaign-id", "path", True)
LIST_ID = ("list-id", "path", True)

OPERATIONS = {
    ("GET", "/campaigns"): {
        "params": {("paused", "query", False), ("search", "query", False)},
        "response": "Campaigns",
    },
    ("GET", "/campaigns/{campaign-id}"): {"params": {CAMPAIGN_ID}, "response": "Campaign"},
    ("POST", "/campaigns/{campaign-id}/lists"): {
        "params": {
            CAMPAIGN_ID,
            ("name", "formData", True),
            ("file_name", "formData", False),
            ("original_name", "formData", False),
            ("header", "formData", False),
            ("delimiter", "formData", False),
            ("separator", "formData", False),
            ("has_header", "formData", False),
            ("ura_id", "formData", False),
        },
        "response": "MailingList",
    },
    ("GET", "/campaigns/{campaign-id}/lists"): {"params": {CAMPAIGN_ID}, "response": "MailingLists"},
    ("POST", "/campaigns/{campaign-id}/lists/{list-id}/mailing.json"): {
        "params": {CAMPAIGN_ID, LIST_ID, ("body", "body", True)},
        "consumes": JSON,
        "body_items": "MailingItem",
        "response": None,  # 204
    },
    ("DELETE", "/campaigns/{campaign-id}/mailing/delete"): {
        "params": {CAMPAIGN_ID, ("body", "body", True)},
        "consumes": JSON,
        "body_items": "MailingDelete",
        "response": None,  # 204
    },
    ("PUT", "/campaigns/{campaign-id}/lists/{list-id}/updateWeight"): {
        "params": {CAMPAIGN_ID, LIST_ID, ("weight", "formData", True)},
        "response": "MailingList",
    },
    # The reconciliation: only the campaigns we pushed to (campaigns[]), simple_paginate (links.next, no count).
    ("GET", "/calls"): {
        "params": {
            ("per_page", "query", True),
            ("start_date", "query", True),
            ("end_date", "query", False),
            ("lists", "query", False),
            ("identifier", "query", False),
            ("identifiers", "query", False),
            ("campaigns", "query", False),
            ("agents", "query", False),
            ("qualifications", "query", False),
            ("numbers", "query", False),
            ("type", "query", False),
            ("limit", "query", False),
            ("offset", "query", False),
            ("with_mailing", "query", True),
            ("minimum_duration", "query", False),
            ("maximum_duration", "query", False),
            ("sid", "query", False),
            ("is_consult", "query", False),
            ("is_transfer", "query", False),
            ("is_transferred", "query", False),
            ("simple_paginate", "query", False),
        },
        "array_query": {"campaigns", "lists", "identifiers", "agents", "qualifications", "numbers"},
        "response": "CallHistoryReports",
    },
    ("GET", "/calls/{call-id}/recording"): {
        "params": {("call-id", "path", True), ("original", "query", False)},
        "response": FILE,
    },
    ("GET", "/qualification_lists"): {"params": set(), "response": "QualificationLists"},
    ("GET", "/qualification_lists/{qualification-list-id}/qualifications"): {
        "params": {("qualification-list-id", "path", True)},
        "response": "Qualification",
    },
    ("POST", "/agent/call/{call-id}/qualify"): {
        "params": {
            ("call-id", "path", True),
            ("qualification_id", "formData", True),
            ("phone", "formData", False),
            ("note", "formData", False),
            ("date", "formData", False),
            ("qualification_note", "formData", False),
            ("end_mode", "formData", False),
        },
        "response": None,  # 204
    },
    ("POST", "/agent/manual_call/{call-id}/qualify"): {
        "params": {
            ("call-id", "path", True),
            ("qualification_id", "formData", True),
            ("qualification_note", "formData", False),
        },
        "response": None,  # 204
    },
}

# properties we send or read -> (all of them exist in the swagger's definition; `required` as it says)
DEFINITIONS = {
    "MailingItem": {"properties": {"phone", "identifier", "data"}, "required": {"phone"}},
    "MailingDelete": {"properties": {"phone", "identifier"}, "required": {"phone"}},
    "Campaign": {"properties": {"id", "name", "paused"}, "required": set()},
    "MailingList": {"properties": {"id", "name"}, "required": set()},
    "Qualification": {"properties": {"id", "name", "allow_schedule"}, "required": set()},
    "QualificationList": {"properties": {"id", "name", "campaigns"}, "required": set()},
    "CallHistoryReport": {
        "properties": {
            "id",
            "number",
            "call_date",
            "call_date_rfc3339",
            "campaign_id",
            "agent",
            "speaking_time",
            "qualification",
            "qualification_note",
            "recording",
            "status_id",
            "mode",
            "sid",
            "mailing_data",
        },
        "required": set(),
    },
}


def consumes(operation: dict) -> tuple:
    return tuple(operation.get("consumes") or DEFAULT_CONSUMES)
