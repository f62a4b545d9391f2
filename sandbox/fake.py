"""A faithful fake of the 3C Plus endpoints we use, following 3C Plus's OpenAPI description (swagger).

Framework-free: `Sandbox.handle()` takes a request and returns (status, headers, body). It is
mounted in the app under /sandbox/3cplus/api/v1/ (DIALER_SANDBOX) and served as its own HTTP
server on loopback by the tests and benchmarks (sandbox/server.py).

Accounts: any Bearer token `sandbox-<name>` is a manager token of the company <name> (created on
first use, with demo campaigns); `sandbox-agent-<name>` is an agent token of the same company and
needs `X-Agent-Id` of one of its agents (1001–1010). Anything else is a 401, as a revoked token.

One call, three ids, as on a real account (sources in the API_NOTES style, [SW] the swagger copied in
vitoralbuquerque22-rgb/vendaFlow `VENDA FLOW/swagger.json`, [VF] the same repo's notes tested on a real account,
[TP] other public integrations):
- call-was-connected: `call.id` is "call:{company id}:{campaign id}:{telephony_id}", `call.telephony_id` a short
  alphanumeric id ("pvCCpxUvUZ"), `call.sid` the session id, `call.agent` the agent id as text
  [VF `VENDA FLOW/docs/3cplus/EVENTOS_SOCKET.md` (call-was-created / call-was-connected samples);
  TP wosiak/socket2webhook `src/components/InteractiveEventFilter.tsx`].
- call-history-was-created: `callHistory._id` is its own 24-hex (MongoDB) id, beside `telephony_id`; no `sid`;
  `qualification` an object whose fields are null when the call was not qualified, `agent` {id, name}
  [VF EVENTOS_SOCKET.md `CallHistoryWasCreatedEvent`; TP socket2webhook].
- GET /calls: each report's `id` is the history's id (clients dedupe reports and history events by
  `callData.id || callData._id` [TP]); `sid` as on the connected call; `agent` is the agent's name and
  `qualification` the qualification id [SW CallHistoryReport]. Public consumers of the same endpoint read
  `qualification` as a name or as {id, name} [TP: GET /calls → CRM syncs], so the shape is an account option
  (`qualification_shape`, see QUALIFICATION_SHAPES) and the tests run every one.
- `recording` is the URL of the recorded call [SW CallHistoryReport.recording], served by
  GET /calls/{id}/recording, which takes the API token like every other route [SW; VF].
- A manual call's call-was-connected fires while the phone still rings (no answered_time yet); answering raises
  manual-call-was-answered [VF INTEGRACAO_3CPLUS.md, EVENTOS_SOCKET.md §3].

The simulated clock and dialler (`set_clock`, `advance`): the predictive dialler of a real account calls the
contacts of the lists of its running campaigns on its own, with no request from us [SW: a campaign's `paused`,
`start_time`/`end_time` and `is_on_active_time`; VF GUIAS.md: the mailing flow ends with the list in the campaign,
which then dials]. Here it runs only when told to advance the clock:
- who is called: every contact present in a list of a campaign that is not paused, at each step of the clock
  (`dial_step_minutes`); a contact deleted with mailing/delete is no longer called, one added again is [SW
  `DELETE /campaigns/{id}/mailing/delete`, `POST …/mailing.json`].
- the campaign's `start_time`/`end_time` are ignored (they are one schedule for the whole campaign; the product
  never sets them), so only what the lists hold decides who is called: the worst case for the back office.
- an unanswered contact is tried again after `redial_minutes`, an answered one is done: a stand-in for the
  campaign's own retry settings, which the swagger names but does not describe [SW DialerSettings; our choice].
- each call ends with call-history-was-created, and an answered one is first connected (call-was-connected), the
  two webhook events a real account sends [VF GUIAS.md]; the history's `status` is the outcome [VF
  EVENTOS_SOCKET.md: 5 not answered, 7 finished with an agent, 8 failed, 9 voicemail], per contact from
  `outcomes` (identifier -> status; default 5).
- each call is also recorded in `account.dialled` with the UTC instant and the debtor's local time, read from the
  contact's `data.fuso` (the IANA zone the back office sends; São Paulo when absent): that record is the sandbox's,
  a real account reports calls in São Paulo time (see `_report`).
"""

import dataclasses
import functools
import io
import itertools
import json
import math
import random
import re
import struct
import threading
import time
import uuid
import wave
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

MANAGER_PREFIX = "sandbox-"
# How GET /calls writes a report's qualification: the swagger's integer id, the id as text, {id, name}, the name.
QUALIFICATION_SHAPES = ("id", "id_text", "object", "name")
TELEPHONY_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
AGENT_PREFIX = "sandbox-agent-"
AGENT_IDS = {str(n) for n in range(1001, 1011)}
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def _agent_id(agent_id):
    return int(agent_id) if re.fullmatch(r"[0-9]{1,18}", str(agent_id)) else agent_id


def _agent_name(agent_id) -> str:
    return f"Agente {agent_id}"


def _now() -> str:
    # Local time with no offset, as the real 3C Plus writes its dates.
    return datetime.now(SAO_PAULO).strftime("%Y-%m-%d %H:%M:%S")


@dataclasses.dataclass
class Faults:
    fail_next: int = 0  # fail this many next calls with fail_status
    fail_status: int = 500
    timeout_next: int = 0  # hang this many next calls for timeout_seconds
    timeout_seconds: float = 3.0
    latency_ms: int = 0
    fail_rate: float = 0.0  # random share of calls failing with fail_status
    timeout_rate: float = 0.0  # random share of calls hanging
    retry_after: int | None = None  # Retry-After sent with 429
    reject_identifiers: frozenset = frozenset()  # a mailing.json batch with one of these gets a 422
    # A random share of mailing.json batches is stored and then the answer is lost: the connection is
    # closed without a response, or, with lost_answer_status (e.g. 502), a gateway error is answered.
    lost_answer_rate: float = 0.0
    lost_answer_status: int | None = None


class AnswerLost(Exception):
    """The request was processed; the server must close the connection without answering."""


@dataclasses.dataclass
class Account:
    name: str
    campaigns: dict = dataclasses.field(default_factory=dict)
    lists: dict = dataclasses.field(default_factory=dict)
    contacts: dict = dataclasses.field(default_factory=dict)  # list id -> [item]
    seen: dict = dataclasses.field(default_factory=dict)  # list id -> {(identifier, phone)}
    counts: dict = dataclasses.field(default_factory=dict)  # list id -> contacts received
    duplicates: dict = dataclasses.field(default_factory=dict)  # list id -> repeated (identifier, phone)
    qualification_lists: dict = dataclasses.field(default_factory=dict)
    qualifications_received: list = dataclasses.field(default_factory=list)
    calls: dict = dataclasses.field(default_factory=dict)  # simulated calls, by the connected event's call id
    company_id: int = 0  # the number in "call:{company}:{campaign}:{telephony_id}"
    qualification_shape: str = "id"  # one of QUALIFICATION_SHAPES
    dialled: list = dataclasses.field(default_factory=list)  # the simulated dialler's calls (see advance)
    last_dialled: dict = dataclasses.field(default_factory=dict)  # "identifier|phone" -> UTC ISO of its last call
    completed: set = dataclasses.field(default_factory=set)  # "identifier|phone" answered: not called again


class Sandbox:
    def __init__(self, *, store_contacts: bool = True, seed: int | None = None, store=None):
        self.store_contacts = store_contacts
        self.accounts: dict[str, Account] = {}
        self.faults = Faults()
        self.requests: list[dict] = []  # what clients sent, for contract tests (bounded)
        self.calls = 0
        self.answers_lost = 0  # batches stored whose answer the lost_answer fault withheld
        self.injected = 0  # calls answered with an injected fault (tests check the faults really happened)
        self.in_flight = 0  # requests being answered right now
        self.max_in_flight = 0  # the most answered at once (tests check that uploads overlap)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.store = store  # keeps accounts across restarts (the app's: the database); None: memory only
        self._random = random.Random(seed)
        self.base_url = ""  # the API root as clients reach it (SandboxServer sets it): recordings' URLs
        # The simulated clock (aware, UTC) and dialler: None is the real time, and the dialler runs only in advance().
        self.clock: datetime | None = None
        self.dial_step_minutes = 5
        self.redial_minutes = 60
        self.outcomes: dict[str, int] = {}  # identifier -> call-history status of its calls (default 5)

    # Control ---------------------------------------------------------------------------------
    def set_faults(self, **changes) -> Faults:
        with self._lock:
            self.faults = dataclasses.replace(self.faults, **changes)
            return self.faults

    def reset(self):
        with self._lock:
            self.accounts.clear()
            if self.store is not None:
                self.store.clear()
            self.faults = Faults()
            self.requests.clear()
            self.calls = 0
            self.injected = 0
            self.max_in_flight = 0
            self.clock = None
            self.outcomes.clear()

    def account(self, name: str) -> Account:
        with self._lock:
            return self._account(name)

    def set_qualification_shape(self, name: str, shape: str) -> Account:
        """How this account's GET /calls writes the qualification (QUALIFICATION_SHAPES)."""
        if shape not in QUALIFICATION_SHAPES:
            raise ValueError(f"qualification_shape must be one of {QUALIFICATION_SHAPES}")
        with self._lock:
            account = self._account(name)
            account.qualification_shape = shape
            self._save(account)
            return account

    def _account(self, name: str) -> Account:
        if name not in self.accounts and self.store is not None:
            state = self.store.load(name)
            if state is not None:
                self.accounts[name] = account_from_state(name, state)
                highest = max(_all_ids(self.accounts[name]), default=0)
                self._ids = itertools.count(max(highest + 1, next(self._ids)))
        if name not in self.accounts:
            account = Account(name, company_id=next(self._ids))
            qualification_list = {"id": next(self._ids), "name": "Cobrança", "campaigns": []}
            account.qualification_lists[qualification_list["id"]] = {
                **qualification_list,
                "qualifications": [
                    self._qualification(q, b, c, s)
                    for q, b, c, s in (
                        ("Caixa Postal", 3, "#9ca3af", False),
                        ("Ligação Interrompida", 3, "#f59e0b", False),
                        ("Contato Incorreto", 1, "#ef4444", False),
                        ("Retornar", 3, "#3b82f6", True),
                        ("Negociar", 2, "#22c55e", False),
                    )
                ],
            }
            for name_, paused in (
                ("Cobrança - Carteira Geral", False),
                ("Cobrança - Acordos Quebrados", False),
                ("Cobrança - Pausada", True),
            ):
                campaign = self._campaign(name_, paused, qualification_list["id"])
                account.campaigns[campaign["id"]] = campaign
                qualification_list["campaigns"].append(campaign["id"])
            account.qualification_lists[qualification_list["id"]]["campaigns"] = qualification_list["campaigns"]
            self.accounts[name] = account
            self._save(account)
        return self.accounts[name]

    def _save(self, account: Account) -> None:
        if self.store is not None:
            self.store.save(account.name, account_state(account))

    def save(self, account: Account) -> None:
        with self._lock:
            self._save(account)

    def _campaign(self, name, paused, qualification_list_id):
        return {
            "id": next(self._ids),
            "name": name,
            "start_time": "08:00",
            "end_time": "20:00",
            "paused": paused,
            "acw_timeout": 30,
            "is_on_active_time": True,
            "caller_id": "1140000000",
            "copy_identifier": True,
            "qualification_list": qualification_list_id,
            "dialer_settings": {"url": ""},
        }

    def _qualification(self, name, behavior, color, allow_schedule):
        return {
            "id": next(self._ids),
            "name": name,
            "behavior": behavior,
            "color": color,
            "conversion": name == "Negociar",
            "allow_schedule": allow_schedule,
            "days_limit": 7 if allow_schedule else 0,
        }

    # The simulated clock and dialler --------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    def set_clock(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("the sandbox clock takes an aware datetime")
        with self._lock:
            self.clock = at.astimezone(UTC)
            return self.clock

    def advance(self, name: str, to: datetime) -> list[tuple[datetime, dict]]:
        """Move the clock to `to`, dialling at each step on the way (the step after the current instant up to `to`
        included): returns the webhook bodies, in order, each with the simulated instant it is sent at."""
        step = timedelta(minutes=self.dial_step_minutes)
        bodies = []
        with self._lock:
            account = self._account(name)
            at = self.clock or datetime.now(UTC)
            to = to.astimezone(UTC)
            while at + step <= to:
                at += step
                bodies.extend((at, body) for body in self._dial(account, at))
            self.clock = max(to, at)
            self._save(account)
        return bodies

    def _dial(self, account: Account, at: datetime) -> list[dict]:
        bodies = []
        redial = timedelta(minutes=self.redial_minutes)
        for list_id, contacts in account.contacts.items():
            mailing_list = account.lists.get(list_id) or {}
            campaign = account.campaigns.get(mailing_list.get("campaign_id"), {})
            if not campaign or campaign.get("paused"):
                continue
            for contact in contacts:
                key = f"{contact.get('identifier') or ''}|{contact['phone']}"
                last = account.last_dialled.get(key)
                if key in account.completed or (last and at - datetime.fromisoformat(last) < redial):
                    continue
                account.last_dialled[key] = at.isoformat()
                bodies.extend(self._simulated_call(account, campaign, list_id, contact, at))
        return bodies

    def _simulated_call(self, account, campaign, list_id, contact, at) -> list[dict]:
        identifier = str(contact.get("identifier") or "")
        status = int(self.outcomes.get(identifier, 5))
        data = contact.get("data") or {}
        try:
            zone = ZoneInfo(str(data.get("fuso") or "America/Sao_Paulo"))
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            zone = SAO_PAULO
        telephony_id = "".join(self._random.choice(TELEPHONY_ID_ALPHABET) for _ in range(10))
        account.dialled.append(
            {
                "at": at.isoformat(),
                "local_time": at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "zone": zone.key,
                "identifier": identifier,
                "phone": str(contact["phone"]),
                "list_id": list_id,
                "campaign_id": campaign["id"],
                "status": status,
            }
        )
        del account.dialled[:-5000]  # bounded: the page and the tests read the recent calls
        bodies = []
        if status == 7:
            account.completed.add(f"{identifier}|{contact['phone']}")
            bodies.append(
                {
                    "call-was-connected": {
                        "call": {
                            "id": f"call:{account.company_id}:{campaign['id']}:{telephony_id}",
                            "telephony_id": telephony_id,
                            "phone": str(contact["phone"]),
                            "identifier": identifier,
                            "mailing_id": list_id,
                            "campaign_id": campaign["id"],
                            "call_mode": "dialer",
                            "status": "3",
                            "agent": "1001",
                        },
                        "mailing": {"identifier": identifier, "phone": str(contact["phone"]), "data": data},
                    }
                }
            )
        bodies.append(
            {
                "call-history-was-created": {
                    "callHistory": {
                        "_id": f"{self._random.getrandbits(96):024x}",
                        "telephony_id": telephony_id,
                        "number": str(contact["phone"]),
                        "status": status,
                        "call_mode": "dialer",
                        "company": {"id": account.company_id, "name": account.name},
                        "qualification": {"id": None, "name": None, "behavior": None, "conversion": None},
                        "mailing_data": {
                            "identifier": identifier,
                            "data": data,
                            "list_id": list_id,
                            "phone": str(contact["phone"]),
                        },
                        "agent": {"id": 1001, "name": _agent_name(1001)} if status == 7 else None,
                        "campaign": {"id": campaign["id"], "name": campaign.get("name", "")},
                        "speaking_time": "00:01:00" if status == 7 else "00:00:00",
                    }
                }
            }
        )
        return bodies

    # Simulated calls ("simular ligação") ---------------------------------------------------------
    def find_contact(self, account: Account, identifier: str = "", phone: str = "") -> dict | None:
        """The newest contact sent to the account's lists with this identifier or phone."""
        with self._lock:
            for list_id in sorted(account.contacts, reverse=True):
                for contact in reversed(account.contacts[list_id]):
                    if (identifier and str(contact.get("identifier")) == identifier) or (
                        phone and str(contact.get("phone")) == phone
                    ):
                        return {**contact, "list_id": list_id, "campaign_id": account.lists[list_id]["campaign_id"]}
        return None

    def connect_call(
        self, account: Account, *, agent_id: str, phone: str, contact: dict | None = None, manual: bool = False
    ) -> dict:
        """A call reaching an agent: returns the call-was-connected webhook body. A manual call is connected
        while the phone still rings: no answered_time yet."""
        contact = contact or {}
        with self._lock:
            telephony_id = "".join(self._random.choice(TELEPHONY_ID_ALPHABET) for _ in range(10))
            campaign_id = contact.get("campaign_id") or next(iter(account.campaigns), 0)
            call = {
                "id": f"call:{account.company_id}:{campaign_id}:{telephony_id}",
                "telephony_id": telephony_id,
                "company_id": account.company_id,
                "phone": phone,
                "identifier": str(contact.get("identifier") or ""),
                "mailing_id": contact.get("list_id"),
                "campaign_id": campaign_id,
                "call_mode": "manual" if manual else "dialer",
                "status": "1" if manual else "3",
                "dialed_time": _now(),
                "answered_time": "" if manual else _now(),
                "connected_time": _now(),
                "agent": str(agent_id),
                "sid": uuid.UUID(int=self._random.getrandbits(128)).hex,
            }
            account.calls[call["id"]] = {"call": call, "data": contact.get("data") or {}, "ended": False}
            qualifications = next(
                (
                    ql["qualifications"]
                    for ql in account.qualification_lists.values()
                    if campaign_id in ql.get("campaigns", [])
                ),
                [],
            )
        return {
            "call-was-connected": {
                "call": call,
                "mailing": {
                    "_id": uuid.uuid4().hex[:24],
                    "identifier": call["identifier"],
                    "phone": phone,
                    "list_id": contact.get("list_id"),
                    "data": contact.get("data") or {},
                },
                "agent": {
                    "id": _agent_id(agent_id),
                    "name": _agent_name(agent_id),
                    "agent_status": 2,
                },
                "campaign": account.campaigns.get(campaign_id, {}),
                "qualification": {"qualifications": qualifications, "url": ""},
            }
        }

    def hang_up(
        self, account: Account, call_id: str, *, speaking_seconds: int | None = None, api_root: str = ""
    ) -> dict | None:
        """End a simulated call (by its connected id): returns the call-history-was-created body, or None.

        api_root: the API's absolute URL, for the recording's (default: base_url, set by SandboxServer)."""
        with self._lock:
            record = account.calls.get(call_id)
            if record is None or record["ended"]:
                return None
            record["ended"] = True
            call = record["call"]
            received = [
                q for q in account.qualifications_received if q["call_id"] in (call["id"], call["telephony_id"])
            ]
            qualification = {}
            if received:
                wanted = received[-1]["qualification_id"]
                qualification = next(
                    (
                        dict(q)
                        for ql in account.qualification_lists.values()
                        for q in ql["qualifications"]
                        if q["id"] == wanted
                    ),
                    {},
                )
            seconds = speaking_seconds if speaking_seconds is not None else self._random.randint(20, 400)
            campaign = account.campaigns.get(call["campaign_id"], {})
            history_id = f"{self._random.getrandbits(96):024x}"
            recording = f"{(api_root or self.base_url).rstrip('/')}/calls/{history_id}/recording"
            record["history_id"] = history_id
            record["report"] = self._report(
                call, record, history_id, qualification, campaign, seconds, received, recording
            )
        return {
            "call-history-was-created": {
                "callHistory": {
                    "_id": history_id,
                    "telephony_id": call["telephony_id"],
                    "number": call["phone"],
                    "status": 7,
                    "call_mode": call["call_mode"],
                    "company": {"id": account.company_id, "name": account.name},
                    # Not qualified: the object is there with its fields null [VF EVENTOS_SOCKET.md].
                    "qualification": {
                        "id": str(qualification["id"]) if qualification else None,
                        "name": qualification.get("name"),
                        "behavior": str(qualification["behavior"]) if qualification else None,
                        "conversion": qualification.get("conversion"),
                    },
                    "mailing_data": {
                        "_id": uuid.uuid4().hex[:24],
                        "identifier": call["identifier"],
                        "data": record["data"],
                        "list_id": call["mailing_id"],
                        "phone": call["phone"],
                    },
                    "agent": {"id": _agent_id(call["agent"]), "name": _agent_name(call["agent"])},
                    "campaign": {"id": campaign.get("id"), "name": campaign.get("name", "")},
                    "speaking_time": f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}",
                    "recorded": True,
                    "recording": recording,
                }
            }
        }

    def _report(self, call, record, history_id, qualification, campaign, seconds, received, recording) -> dict:
        """The call as GET /calls reports it (swagger CallHistoryReport); dates in São Paulo time. The
        qualification is kept as its id here and written in the account's shape when listed."""
        ended = datetime.now(SAO_PAULO)
        return {
            "id": history_id,
            "number": call["phone"],
            "call_date": ended.strftime("%Y-%m-%d %H:%M:%S"),
            "call_date_rfc3339": ended.isoformat(timespec="seconds"),
            "campaign_id": campaign.get("id"),
            "campaign": campaign.get("name", ""),
            "has_agent": True,
            "agent": _agent_name(call["agent"]),
            "speaking_time": f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}",
            "qualification": qualification.get("id"),
            "behavior": qualification.get("behavior"),
            "qualification_note": received[-1]["note"] if received else "",
            "recorded": True,
            "recording": recording,
            "status_id": "7",
            "readable_status_text": "Finalizada",
            "mode": call["call_mode"],
            "sid": call["sid"],
            "mailing_data": {
                "identifier": call["identifier"],
                "phone": call["phone"],
                "list_id": call["mailing_id"],
                "data": record["data"],
            },
        }

    def _shaped(self, account: Account, report: dict) -> dict:
        """The report with its qualification written the way this account writes it."""
        qualification_id = report.get("qualification")
        if qualification_id is None or account.qualification_shape == "id":
            return report
        if account.qualification_shape == "id_text":
            return {**report, "qualification": str(qualification_id)}
        name = next(
            (
                q["name"]
                for ql in account.qualification_lists.values()
                for q in ql["qualifications"]
                if q["id"] == qualification_id
            ),
            "",
        )
        if account.qualification_shape == "object":
            return {**report, "qualification": {"id": qualification_id, "name": name}}
        return {**report, "qualification": name}

    def qualify_in_dialer(self, account: Account, call_id: str, qualification_name: str) -> dict:
        """An agent qualifying the call inside 3C Plus (not through our page)."""
        with self._lock:
            qualification = next(
                q
                for ql in account.qualification_lists.values()
                for q in ql["qualifications"]
                if q["name"] == qualification_name
            )
            call = account.calls[call_id]["call"]
            account.qualifications_received.append(
                {
                    "call_id": call["id"],
                    "mode": "call",
                    "agent_id": call["agent"],
                    "qualification_id": qualification["id"],
                    "note": "",
                    "date": "",
                    "received_at": _now(),
                }
            )
            return qualification

    def _calls_report(self, account, args, query, data, agent_id):
        """GET /calls: start_date, per_page and with_mailing are required (swagger)."""
        errors = {
            name: [f"O campo {name} é obrigatório."]
            for name in ("start_date", "per_page", "with_mailing")
            if not _first(query.get(name))
        }
        if errors:
            return _validation(errors)
        try:
            start = datetime.strptime(_first(query["start_date"]), "%Y-%m-%d %H:%M:%S")
            end = datetime.strptime(_first(query["end_date"]), "%Y-%m-%d %H:%M:%S") if query.get("end_date") else None
        except ValueError:
            return _validation({"start_date": ["Use o formato Y-m-d H:i:s."]})
        with_mailing = _first(query["with_mailing"]) in ("1", "true", "True")
        # campaigns[] narrows the report to those campaigns (swagger: GET /calls `campaigns`, an array); without it
        # every call of the company comes, receptive and other campaigns included.
        campaigns = {value for value in query.get("campaigns[]", []) + query.get("campaigns", []) if value}
        reports = []
        for record in account.calls.values():
            report = record.get("report")
            if report is None:
                continue
            at = datetime.strptime(report["call_date"], "%Y-%m-%d %H:%M:%S")
            if at < start or (end is not None and at > end):
                continue
            if _first(query.get("identifier")) and report["mailing_data"]["identifier"] != _first(query["identifier"]):
                continue
            if campaigns and str(report.get("campaign_id")) not in campaigns:
                continue
            report = self._shaped(account, report)
            reports.append(report if with_mailing else {k: v for k, v in report.items() if k != "mailing_data"})
        reports.sort(key=lambda r: (r["call_date"], r["id"]))
        # simple_paginate: Laravel's simple pagination, no count of the whole (swagger: GET /calls
        # `simple_paginate`); the next page is only in links.next.
        simple = _first(query.get("simple_paginate")) in ("1", "true", "True")
        return _paginated(reports, query, "calls", simple=simple)

    # Requests --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        """One API request. `path` is relative to the API root; headers are lower-cased."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._handle(method, path, query, headers, body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _handle(self, method, path, query, headers, body):
        method = method.upper()
        path = "/" + path.strip("/")
        content_type = headers.get("content-type", "").split(";")[0].strip()
        data = _parse_body(body, content_type)  # once, outside the lock: a batch can be large
        with self._lock:
            self.calls += 1
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": {k: v for k, v in query.items() if k != "api_token"},
                    "content_type": content_type,
                    # Counting only (benchmarks): the bodies would fill memory with every contact anyway.
                    "body": data if self.store_contacts else None,
                }
            )
            del self.requests[:-2000]
            faults = self.faults
            hang = faults.timeout_next > 0 or (faults.timeout_rate and self._random.random() < faults.timeout_rate)
            if faults.timeout_next > 0:
                self.faults = dataclasses.replace(faults, timeout_next=faults.timeout_next - 1)
            fail = not hang and (
                faults.fail_next > 0 or (faults.fail_rate and self._random.random() < faults.fail_rate)
            )
            if fail and faults.fail_next > 0:
                self.faults = dataclasses.replace(self.faults, fail_next=faults.fail_next - 1)
            self.injected += bool(hang or fail)
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if hang:
            time.sleep(faults.timeout_seconds)
            return _envelope(504, "Gateway Timeout", "sandbox_timeout")
        if fail:
            extra = {"Retry-After": str(faults.retry_after)} if faults.fail_status == 429 and faults.retry_after else {}
            status, hdrs, payload = _envelope(faults.fail_status, "Sandbox fault", "injected_fault")
            return status, {**hdrs, **extra}, payload

        token = _bearer(headers) or _first(query.get("api_token"))
        agent_header = headers.get("x-agent-id")
        if not token or not token.startswith(MANAGER_PREFIX) or token in (MANAGER_PREFIX, AGENT_PREFIX):
            return _envelope(401, "Unauthorized", "token_invalid")
        is_agent = token.startswith(AGENT_PREFIX)
        account_name = token[len(AGENT_PREFIX) :] if is_agent else token[len(MANAGER_PREFIX) :]
        if is_agent and not agent_header:
            return _envelope(400, "Bad Request", "agent_required")
        if is_agent and agent_header not in AGENT_IDS:
            return _envelope(401, "Unauthorized", "agent_invalid")
        if not is_agent and agent_header:
            return _envelope(400, "Bad Request", "agent_not_allowed")
        agent_route = path.startswith("/agent/")
        if agent_route != is_agent:
            return _envelope(403, "Forbidden", "forbidden")

        with self._lock:
            account = self._account(account_name)
            response = self._route(account, method, path, query, data, agent_header)
            lost = (
                response[0] < 300
                and method == "POST"
                and path.endswith("/mailing.json")
                and faults.lost_answer_rate
                and self._random.random() < faults.lost_answer_rate
            )
            if lost:
                self.answers_lost += 1
            if method != "GET" and response[0] < 400:
                self._save(account)
        if lost and faults.lost_answer_status:
            return _envelope(faults.lost_answer_status, "Bad Gateway", "sandbox_lost_answer")
        if lost:
            raise AnswerLost
        return _byte_range(response, headers)

    def _route(self, account, method, path, query, data, agent_id):
        for route_method, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method in (method, "*"):
                return handler(self, account, match.groupdict(), query, data, agent_id)
        return _envelope(404, "Not Found", "route_not_found")

    # Endpoints (see ROUTES) ------------------------------------------------------------------
    def _list_campaigns(self, account, args, query, data, agent_id):
        items = list(account.campaigns.values())
        if "paused" in query:
            wanted = _first(query["paused"]) in ("1", "true", "True")
            items = [c for c in items if c["paused"] == wanted]
        if query.get("search"):
            term = _first(query["search"]).lower()
            items = [c for c in items if term in c["name"].lower()]
        return _paginated(items, query, "campaigns")

    def _get_campaign(self, account, args, query, data, agent_id):
        campaign, missing = _campaign(account, args)
        return missing or _data(campaign)

    def _delete_campaign_mailing(self, account, args, query, data, agent_id):
        campaign, missing = _campaign(account, args)
        return missing or self._delete_mailing(account, campaign, data)

    def _list_lists(self, account, args, query, data, agent_id):
        campaign, missing = _campaign(account, args)
        if missing:
            return missing
        return _paginated(
            [lst for lst in account.lists.values() if lst["campaign_id"] == campaign["id"]],
            query,
            f"campaigns/{campaign['id']}/lists",
        )

    def _create_list(self, account, args, query, data, agent_id):
        campaign, missing = _campaign(account, args)
        if missing:
            return missing
        name = str(_first(data.get("name")) or "").strip() if isinstance(data, dict) else ""
        if not name:
            return _validation({"name": ["O campo name é obrigatório."]})
        mailing_list = {
            "id": next(self._ids),
            "campaign_id": campaign["id"],
            "name": name,
            "total": 0,
            "dial": 0,
            "dialed": 0,
            "completed": 0,
            "weight": 1,
            "created_at": _now(),
        }
        account.lists[mailing_list["id"]] = mailing_list
        account.contacts[mailing_list["id"]] = []
        account.seen[mailing_list["id"]] = set()
        account.counts[mailing_list["id"]] = 0
        account.duplicates[mailing_list["id"]] = 0
        return _data(mailing_list)

    def _add_mailing(self, account, args, query, data, agent_id):
        mailing_list, missing = _mailing_list(account, args)
        return missing or self._mailing(account, mailing_list, data)

    def _update_weight(self, account, args, query, data, agent_id):
        mailing_list, missing = _mailing_list(account, args)
        if missing:
            return missing
        weight = _int(_first(data.get("weight")) if isinstance(data, dict) else None)
        if weight is None:
            return _validation({"weight": ["O campo weight deve ser um número inteiro."]})
        mailing_list["weight"] = weight
        return _data(mailing_list)

    def _unknown_under_campaign(self, account, args, query, data, agent_id):
        """Any other path below a campaign (or one of its lists): a missing campaign or list is named first."""
        _found, missing = _mailing_list(account, args) if args.get("list") is not None else _campaign(account, args)
        return missing or _envelope(404, "Not Found", "route_not_found")

    def _list_qualification_lists(self, account, args, query, data, agent_id):
        items = [{k: v for k, v in q.items() if k != "qualifications"} for q in account.qualification_lists.values()]
        return _paginated(items, query, "qualification_lists")

    def _list_qualifications(self, account, args, query, data, agent_id):
        qualification_list = account.qualification_lists.get(_int(args["qualification_list"]))
        if qualification_list is None:
            return _envelope(404, "Not Found", "qualification_list_not_found")
        return _paginated(
            qualification_list["qualifications"],
            query,
            f"qualification_lists/{args['qualification_list']}/qualifications",
        )

    def _qualify(self, account, args, query, data, agent_id):
        qualification_id = _int(_first(data.get("qualification_id")) if isinstance(data, dict) else None)
        if qualification_id is None:
            return _validation({"qualification_id": ["O campo qualification_id é obrigatório."]})
        known = {q["id"] for ql in account.qualification_lists.values() for q in ql["qualifications"]}
        if qualification_id not in known:
            return _validation({"qualification_id": ["Qualificação inexistente."]})
        account.qualifications_received.append(
            {
                "call_id": args["call"],
                "mode": args["mode"],
                "agent_id": agent_id,
                "qualification_id": qualification_id,
                "note": _first(data.get("qualification_note")) or "",
                "date": _first(data.get("date")) or "",
                "received_at": _now(),
            }
        )
        return 204, {}, b""

    def _recording(self, account, args, query, data, agent_id):
        """GET /calls/{call-id}/recording: the recording of an ended call, found by its call-history id (the id
        GET /calls reports) or its connected call id. Swagger: "Download a recording for the given call", answered
        as audio/mpeg, audio/wave or audio/gsm with Content-Disposition: attachment; the manager token is needed
        like on every route (the recording links 3C Plus puts in events do not play without it, which is why public
        integrations fetch this endpoint server-side). Byte ranges: see _byte_range."""
        wanted = args["call"]
        for call_id, record in account.calls.items():
            report = record.get("report")
            if report is not None and wanted in (report["id"], call_id):
                disposition = f"attachment; filename={report.get('sid') or 'gravacao'}.wav"
                return 200, {"Content-Type": "audio/wave", "Content-Disposition": disposition}, _sample_recording()
        return _envelope(404, "Not Found", "recording_not_found")

    def _method_not_allowed(self, account, args, query, data, agent_id):
        return _envelope(405, "Method Not Allowed", "method_not_allowed")

    def _delete_mailing(self, account, campaign, items):
        if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("phone") for i in items):
            return _validation({"mailing": ["O corpo deve ser uma lista JSON de {phone, identifier}."]})
        wanted = {(str(i.get("identifier") or ""), str(i["phone"])) for i in items}
        for list_id, mailing_list in account.lists.items():
            if mailing_list["campaign_id"] != campaign["id"]:
                continue
            seen = account.seen[list_id]
            removed = seen & wanted  # walks the smaller set: a batch of 1,000 against a list of a million
            seen -= removed  # in place: a new set per request cost the whole list each time
            account.counts[list_id] -= len(removed)
            if account.contacts[list_id]:
                account.contacts[list_id] = [
                    c
                    for c in account.contacts[list_id]
                    if (str(c.get("identifier") or ""), str(c["phone"])) not in wanted
                ]
            mailing_list["total"] = account.counts[list_id]
        return 204, {}, b""

    def _mailing(self, account, mailing_list, items):
        if not isinstance(items, list):
            return _validation({"mailing": ["O corpo deve ser uma lista JSON de contatos."]})
        errors = {}
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not str(item.get("phone") or "").strip():
                errors[f"{index}.phone"] = ["O campo phone é obrigatório."]
            elif not re.fullmatch(r"[0-9]+", str(item["phone"])):  # ASCII digits: isdigit() takes "²"
                errors[f"{index}.phone"] = ["O campo phone deve conter apenas dígitos."]
            elif str(item.get("identifier")) in self.faults.reject_identifiers:
                errors[f"{index}.identifier"] = ["Contato bloqueado pela operadora."]
        if errors:
            return _validation(errors)
        list_id = mailing_list["id"]
        seen = account.seen[list_id]
        for item in items:
            key = (str(item.get("identifier") or ""), str(item["phone"]))
            if key in seen:
                account.duplicates[list_id] += 1
            else:
                seen.add(key)
            if self.store_contacts:
                account.contacts[list_id].append(item)
        account.counts[list_id] += len(items)
        mailing_list["total"] = account.counts[list_id]
        return 204, {}, b""


CAMPAIGN = r"/campaigns/(?P<campaign>[^/]*)"
LIST = CAMPAIGN + r"/lists/(?P<list>[^/]*)"
QUALIFY = r"/agent/(?P<mode>call|manual_call)/(?P<call>[^/]*)/qualify"

# (method, path, handler): the first route whose path matches and whose method is the request's (or "*")
# answers; nothing matching is a 404.
ROUTES = [
    (method, re.compile(path, re.DOTALL), handler)
    for method, path, handler in (
        ("GET", r"/campaigns", Sandbox._list_campaigns),
        ("GET", CAMPAIGN, Sandbox._get_campaign),
        ("DELETE", CAMPAIGN + r"/mailing/delete", Sandbox._delete_campaign_mailing),
        ("GET", CAMPAIGN + r"/lists", Sandbox._list_lists),
        ("POST", CAMPAIGN + r"/lists", Sandbox._create_list),
        ("POST", LIST + r"/mailing\.json", Sandbox._add_mailing),
        ("PUT", LIST + r"/updateWeight", Sandbox._update_weight),
        ("*", LIST + r"(?:/.*)?", Sandbox._unknown_under_campaign),
        ("*", CAMPAIGN + r"(?:/.*)?", Sandbox._unknown_under_campaign),
        ("GET", r"/calls", Sandbox._calls_report),
        ("GET", r"/calls/(?P<call>[^/]+)/recording", Sandbox._recording),
        ("GET", r"/qualification_lists", Sandbox._list_qualification_lists),
        ("GET", r"/qualification_lists/(?P<qualification_list>[^/]*)/qualifications", Sandbox._list_qualifications),
        ("POST", QUALIFY, Sandbox._qualify),
        ("*", QUALIFY, Sandbox._method_not_allowed),
    )
]


@functools.cache
def _sample_recording() -> bytes:
    """Two seconds of a 440 Hz tone as 8 kHz mono 16-bit WAV: small, and a real file every browser plays."""
    rate, seconds = 8000, 2
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(rate * seconds)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(frames)
    return buffer.getvalue()


def _byte_range(response, headers: dict):
    """Audio is served as a file server serves it (RFC 9110 §14): Accept-Ranges, and one `Range: bytes=a-b` (or
    `a-`, or the last `-n`) answered 206 with Content-Range, a range past the end 416. Other answers pass as they
    are."""
    status, response_headers, body = response
    if status != 200 or not response_headers.get("Content-Type", "").startswith("audio/"):
        return response
    response_headers = {**response_headers, "Accept-Ranges": "bytes"}
    match = re.fullmatch(r"bytes=([0-9]*)-([0-9]*)", headers.get("range", "").strip())
    if not match or match.groups() == ("", ""):
        return status, response_headers, body
    first, last = match.groups()
    size = len(body)
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        return 416, {"Content-Range": f"bytes */{size}"}, b""
    return 206, {**response_headers, "Content-Range": f"bytes {start}-{end}/{size}"}, body[start : end + 1]


def _campaign(account: Account, args: dict):
    """(campaign, None), or (None, the 404 to answer)."""
    campaign = account.campaigns.get(_int(args["campaign"]))
    if campaign is None:
        return None, _envelope(404, "Not Found", "campaign_not_found")
    return campaign, None


def _mailing_list(account: Account, args: dict):
    """(list, None) for a list of the path's campaign, or (None, the 404 to answer)."""
    campaign, missing = _campaign(account, args)
    if missing:
        return None, missing
    mailing_list = account.lists.get(_int(args["list"]))
    if mailing_list is None or mailing_list["campaign_id"] != campaign["id"]:
        return None, _envelope(404, "Not Found", "list_not_found")
    return mailing_list, None


def _parse_body(body: bytes, content_type: str):
    if not body:
        return {}
    if content_type == "application/json":
        try:
            return json.loads(body)
        except ValueError:
            return {}
    return {k.removesuffix("[]"): v if len(v) > 1 else v[0] for k, v in parse_qs(body.decode()).items()}


def _bearer(headers: dict) -> str | None:
    value = headers.get("authorization", "")
    return value[7:].strip() if value.lower().startswith("bearer ") else None


def _first(value):
    return value[0] if isinstance(value, list) and value else value


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _json(status: int, payload: dict) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload, ensure_ascii=False).encode()


def _envelope(status: int, title: str, detail: str) -> tuple[int, dict, bytes]:
    return _json(status, {"status": status, "title": title, "detail": detail, "transaction_id": str(uuid.uuid4())})


def _data(data) -> tuple[int, dict, bytes]:
    return _json(200, {"status": 200, "title": "OK", "detail": "", "transaction_id": str(uuid.uuid4()), "data": data})


def _validation(errors: dict) -> tuple[int, dict, bytes]:
    return _json(
        422,
        {
            "status": 422,
            "title": "Unprocessable Entity",
            "detail": "Validation errors found",
            "transaction_id": str(uuid.uuid4()),
            "errors": errors,
        },
    )


def _paginated(items: list, query: dict, path: str, *, simple: bool = False) -> tuple[int, dict, bytes]:
    per_page = max(1, min(_int(_first(query.get("per_page"))) or 15, 500))
    page = max(1, _int(_first(query.get("page"))) or 1)
    total = len(items)
    total_pages = max(1, -(-total // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = {"next": f"/{path}?{urlencode({'page': page + 1, 'per_page': per_page})}"} if page < total_pages else []
    pagination = {"count": len(chunk), "per_page": per_page, "current_page": page, "links": links}
    if not simple:
        pagination.update(total=total, total_pages=total_pages)
    return _json(
        200,
        {
            "status": 200,
            "title": "OK",
            "detail": "",
            "transaction_id": str(uuid.uuid4()),
            "data": chunk,
            "meta": {"pagination": pagination},
        },
    )


# State kept across restarts -------------------------------------------------------------------
INT_KEYED = ("campaigns", "lists", "contacts", "counts", "duplicates", "qualification_lists")


def account_state(account: Account) -> dict:
    """The account as JSON: sets become lists (keys become strings; account_from_state turns them back)."""
    state = {
        field: getattr(account, field)
        for field in (
            *INT_KEYED,
            "qualifications_received",
            "calls",
            "company_id",
            "qualification_shape",
            "dialled",
            "last_dialled",
        )
    }
    state["completed"] = sorted(account.completed)
    state["seen"] = {list_id: sorted(map(list, keys)) for list_id, keys in account.seen.items()}
    return json.loads(json.dumps(state))


def account_from_state(name: str, state: dict) -> Account:
    account = Account(name)
    for field in INT_KEYED:
        setattr(account, field, {int(k): v for k, v in (state.get(field) or {}).items()})
    account.seen = {int(k): {tuple(pair) for pair in v} for k, v in (state.get("seen") or {}).items()}
    account.qualifications_received = list(state.get("qualifications_received") or [])
    account.calls = dict(state.get("calls") or {})
    account.company_id = _int(state.get("company_id")) or 0
    account.dialled = list(state.get("dialled") or [])
    account.last_dialled = dict(state.get("last_dialled") or {})
    account.completed = set(state.get("completed") or [])
    if state.get("qualification_shape") in QUALIFICATION_SHAPES:
        account.qualification_shape = state["qualification_shape"]
    return account


def _all_ids(account: Account):
    yield account.company_id
    yield from account.campaigns
    yield from account.lists
    for qualification_list in account.qualification_lists.values():
        yield qualification_list["id"]
        yield from (q["id"] for q in qualification_list.get("qualifications", []))
