"""A fake PSP that follows the Banco Central's API Pix, plus a boleto flow: no account needed.

Framework-free like sandbox/fake.py: `PixSandbox.handle()` takes a request and returns (status, headers, body);
sandbox/pix_server.py serves it on loopback, and `pay()` is the debtor paying (the sandbox page's "Pagar").

Where each behaviour comes from (public sources):
- [API] the API Pix OpenAPI (bacen/pix-api, https://bacen.github.io/pix-api/, v2.x): PUT /cob/{txid} and PUT
  /cobv/{txid} create a charge under the receiver's txid (`^[a-zA-Z0-9]{26,35}$`), answering 201 with `status`
  ATIVA, `loc`, `location`, `revisao` and `pixCopiaECola`; `calendario.dataDeVencimento` and
  `validadeAposVencimento`, `valor.original` with `multa`/`juros`/`desconto` ({modalidade, valorPerc}) on cobv;
  PATCH with {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"} removes it (a paid one, CONCLUIDA, cannot be);
  GET /pix?inicio&fim lists received PIX with `endToEndId`, `txid`, `valor`, `horario`, `chave`, paginated by
  `paginacao.paginaAtual`/`itensPorPagina` and answered with `parametros.paginacao.quantidadeDePaginas`;
  PUT /webhook/{chave} {"webhookUrl"}; the PSP POSTs {"pix": [...]} to the webhook URL with "/pix" appended;
  errors are RFC 7807 {type, title, status, detail, violacoes}.
- [OAUTH] the standard's security section and Efí's docs (mpaivaana/error-report `docs/api-pix`, the Efí
  developer docs): POST /oauth/token with HTTP Basic client_id:client_secret and grant_type=client_credentials,
  answering {access_token, token_type: "Bearer", expires_in, scope}; over mTLS on the real PSPs (this fake runs
  plain HTTP on loopback, so mTLS is the client's, tested by configuration only).
- [E2E] the endToEndId format of the SPI manual: "E" + the payer PSP's ISPB (8 digits) + yyyyMMddHHmm + 11
  alphanumerics (32 characters).
- [BOLETO] there is no Banco Central standard for boletos; the flow copies the shape of the banks' registration APIs
  (Banco do Brasil's `POST /boletos`, imobanco/bb-wrapper): the receiver numbers the boleto (our "seu número"),
  the bank answers `nossoNumero`, `linhaDigitavel` and `codigoBarras`. It is a PUT under our number here so a retry
  is harmless. Payments come back in a CNAB 240 retorno file (FEBRABAN layout, segments T and U), `cnab_retorno()`.
"""

import base64
import dataclasses
import datetime
import hashlib
import json
import random
import re
import string
import threading
from decimal import Decimal
from urllib.parse import parse_qs, unquote

TXID_RE = re.compile(r"^[a-zA-Z0-9]{26,35}$")
SEU_NUMERO_RE = re.compile(r"^[A-Za-z0-9]{1,15}$")
CLIENT_PREFIX = "sandbox-"
PAYER_ISPB = "00000000"
REMOVED = "REMOVIDA_PELO_USUARIO_RECEBEDOR"


def secret_for(client_id: str) -> str:
    """The client_secret of a sandbox client_id: any `sandbox-<name>` is an account, its secret `segredo-<name>`."""
    return "segredo-" + client_id[len(CLIENT_PREFIX) :]


def _crc16(payload: str) -> str:
    crc = 0xFFFF
    for byte in payload.encode("ascii"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _field(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def dynamic_brcode(location: str, name: str = "SANDBOX PSP", city: str = "SAO PAULO") -> str:
    """A dynamic BR Code: field 26 carries the payload URL (25), not the key; the amount is in the payload."""
    account = _field("00", "br.gov.bcb.pix") + _field("25", location[:77])
    payload = (
        _field("00", "01")
        + _field("01", "12")
        + _field("26", account)
        + _field("52", "0000")
        + _field("53", "986")
        + _field("58", "BR")
        + _field("59", name)
        + _field("60", city)
        + _field("62", _field("05", "***"))
        + "6304"
    )
    return payload + _crc16(payload)


@dataclasses.dataclass
class Account:
    name: str
    charges: dict = dataclasses.field(default_factory=dict)  # txid -> charge
    boletos: dict = dataclasses.field(default_factory=dict)  # seu número -> boleto
    received: list = dataclasses.field(default_factory=list)
    webhooks: dict = dataclasses.field(default_factory=dict)  # chave -> url
    deliveries: list = dataclasses.field(default_factory=list)  # (url, status or error)


class PixSandbox:
    def __init__(self, *, deliver=None, seed: int | None = None, now=None):
        """deliver(url, body: bytes) -> HTTP status: how the webhook POST goes out (pix_server uses urllib)."""
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, str] = {}
        self.deliver = deliver
        self.random = random.Random(seed)
        self.now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self.lock = threading.RLock()
        self.base_url = ""
        self.requests: list[tuple[str, str]] = []

    def account(self, name: str) -> Account:
        return self.accounts.setdefault(name, Account(name))

    # HTTP ------------------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes):
        with self.lock:
            self.requests.append((method, path))
            if path == "/oauth/token" and method == "POST":
                return self._token(headers, body)
            account = self._authorized(headers)
            if account is None:
                return self._problem(401, "AcessoNegado", "Token de acesso ausente ou inválido.")
            try:
                payload = json.loads(body) if body else {}
            except ValueError:
                return self._problem(400, "JsonInvalido", "O corpo não é JSON.")
            parts = [unquote(p) for p in path.split("/") if p]
            if parts[:1] == ["v2"] and len(parts) == 3 and parts[1] in ("cob", "cobv"):
                return self._charge(account, method, parts[1], parts[2], payload)
            if parts == ["v2", "pix"] and method == "GET":
                return self._list_pix(account, query)
            if parts[:2] == ["v2", "webhook"] and len(parts) == 3:
                return self._webhook(account, method, parts[2], payload)
            if parts[:2] == ["v1", "boletos"] and len(parts) == 3:
                return self._boleto(account, method, parts[2], payload)
            return self._problem(404, "NaoEncontrado", "Rota desconhecida.")

    def _json(self, status: int, data) -> tuple:
        return status, {"Content-Type": "application/json"}, json.dumps(data).encode()

    def _problem(self, status: int, kind: str, detail: str, violacoes=None) -> tuple:
        problem = {"type": f"https://pix.bcb.gov.br/api/v2/error/{kind}", "title": kind, "status": status}
        problem["detail"] = detail
        if violacoes:
            problem["violacoes"] = violacoes
        return status, {"Content-Type": "application/problem+json"}, json.dumps(problem).encode()

    def _token(self, headers, body):
        auth = headers.get("authorization", "")
        try:
            client_id, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
        except ValueError:
            return self._json(401, {"error": "invalid_client"})
        form = parse_qs(body.decode("ascii", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return self._json(400, {"error": "unsupported_grant_type"})
        if not client_id.startswith(CLIENT_PREFIX) or secret != secret_for(client_id):
            return self._json(401, {"error": "invalid_client"})
        token = "tok-" + "".join(self.random.choices(string.ascii_letters + string.digits, k=24))
        self.tokens[token] = client_id[len(CLIENT_PREFIX) :]
        scope = "cob.write cob.read cobv.write cobv.read pix.read webhook.write webhook.read"
        return self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": scope})

    def _authorized(self, headers) -> Account | None:
        name = self.tokens.get(headers.get("authorization", "").removeprefix("Bearer "))
        return None if name is None else self.account(name)

    def _charge(self, account, method, kind, txid, payload):
        if not TXID_RE.match(txid):
            return self._problem(400, "CobOperacaoInvalida", "O txid deve ter de 26 a 35 letras e números.")
        charge = account.charges.get(txid)
        if method == "GET":
            return self._json(200, charge) if charge else self._problem(404, "CobNaoEncontrado", "Cobrança não existe.")
        if method == "PATCH":
            if charge is None:
                return self._problem(404, "CobNaoEncontrado", "Cobrança não existe.")
            if payload.get("status") == REMOVED:
                if charge["status"] == "CONCLUIDA":
                    return self._problem(400, "CobOperacaoInvalida", "Cobrança concluída não pode ser removida.")
                charge["status"] = REMOVED
                charge["revisao"] += 1
            return self._json(200, charge)
        if method != "PUT":
            return self._problem(405, "MetodoNaoPermitido", "Método não permitido.")
        problems = self._check_charge(kind, payload)
        if problems:
            return self._problem(400, "CobVValorInvalido" if kind == "cobv" else "CobValorInvalido", "", problems)
        if charge is not None:
            # [API] a PUT on an existing txid revises it (same body: nothing changes); a paid one cannot be.
            if charge["status"] != "ATIVA":
                return self._problem(400, "CobOperacaoInvalida", "A cobrança não está ativa.")
            same = {k: charge.get(k) for k in payload} == payload
            if not same:
                charge.update(payload)
                charge["revisao"] += 1
            return self._json(200, charge)
        loc_id = len(account.charges) + 1
        # [API] the location is the PSP's own opaque URL of the payload, not the txid
        opaque = "".join(self.random.choices("0123456789abcdef", k=32))
        location = f"{self.base_url.split('//')[-1].split('/')[0] or 'pix.sandbox'}/qr/v2/{opaque}"
        charge = {
            **payload,
            "txid": txid,
            "revisao": 0,
            "status": "ATIVA",
            "loc": {"id": loc_id, "location": location, "tipoCob": kind},
            "location": location,
            "pixCopiaECola": dynamic_brcode(location),
        }
        charge["calendario"] = {**payload.get("calendario", {}), "criacao": self.now().isoformat()}
        account.charges[txid] = charge
        return self._json(201, charge)

    def _check_charge(self, kind, payload) -> list:
        problems = []
        valor = payload.get("valor") if isinstance(payload.get("valor"), dict) else {}
        if not re.fullmatch(r"\d{1,10}\.\d{2}", str(valor.get("original", ""))) or Decimal(valor["original"]) <= 0:
            problems.append({"razao": "valor.original inválido", "propriedade": "cob.valor.original"})
        if not isinstance(payload.get("chave"), str) or not payload["chave"]:
            problems.append({"razao": "chave ausente", "propriedade": "cob.chave"})
        calendario = payload.get("calendario") if isinstance(payload.get("calendario"), dict) else {}
        if kind == "cobv":
            try:
                datetime.date.fromisoformat(str(calendario.get("dataDeVencimento")))
            except ValueError:
                problems.append({"razao": "dataDeVencimento inválida", "propriedade": "cobv.calendario"})
            devedor = payload.get("devedor") if isinstance(payload.get("devedor"), dict) else {}
            if not (devedor.get("cpf") or devedor.get("cnpj")) or not devedor.get("nome"):
                problems.append({"razao": "devedor obrigatório na cobv", "propriedade": "cobv.devedor"})
            for part in ("multa", "juros", "desconto"):
                given = valor.get(part)
                if given is not None and not (isinstance(given, dict) and "modalidade" in given):
                    problems.append({"razao": f"{part} sem modalidade", "propriedade": f"cobv.valor.{part}"})
        return problems

    def _list_pix(self, account, query):
        def one(name, default=None):
            values = query.get(name) or [default]
            return values[0]

        try:
            start = datetime.datetime.fromisoformat(one("inicio"))
            end = datetime.datetime.fromisoformat(one("fim"))
            page = int(one("paginacao.paginaAtual", "0"))
            per_page = min(int(one("paginacao.itensPorPagina", "100")), 1000)
        except (TypeError, ValueError):
            return self._problem(400, "ConsultaInvalida", "inicio e fim são obrigatórios (RFC 3339).")
        found = [p for p in account.received if start <= datetime.datetime.fromisoformat(p["horario"]) <= end]
        pages = max(1, -(-len(found) // per_page))
        chunk = found[page * per_page : (page + 1) * per_page]
        parametros = {
            "inicio": start.isoformat(),
            "fim": end.isoformat(),
            "paginacao": {
                "paginaAtual": page,
                "itensPorPagina": per_page,
                "quantidadeDePaginas": pages,
                "quantidadeTotalDeItens": len(found),
            },
        }
        return self._json(200, {"parametros": parametros, "pix": chunk})

    def _webhook(self, account, method, chave, payload):
        if method == "PUT":
            url = payload.get("webhookUrl")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return self._problem(400, "WebhookOperacaoInvalida", "webhookUrl inválida.")
            account.webhooks[chave] = url
            return 200, {}, b""
        if method == "GET":
            url = account.webhooks.get(chave)
            if url is None:
                return self._problem(404, "WebhookNaoEncontrado", "Sem webhook para a chave.")
            return self._json(200, {"webhookUrl": url, "chave": chave, "criacao": self.now().isoformat()})
        if method == "DELETE":
            account.webhooks.pop(chave, None)
            return 204, {}, b""
        return self._problem(405, "MetodoNaoPermitido", "Método não permitido.")

    def _boleto(self, account, method, seu_numero, payload):
        if not SEU_NUMERO_RE.match(seu_numero):
            return self._problem(400, "BoletoInvalido", "Seu número: até 15 letras e números.")
        boleto = account.boletos.get(seu_numero)
        if method == "GET":
            return self._json(200, boleto) if boleto else self._problem(404, "BoletoNaoEncontrado", "Não existe.")
        if method == "PATCH":
            if boleto is None:
                return self._problem(404, "BoletoNaoEncontrado", "Não existe.")
            if payload.get("status") == "BAIXADO" and boleto["status"] == "REGISTRADO":
                boleto["status"] = "BAIXADO"
            return self._json(200, boleto)
        if method != "PUT":
            return self._problem(405, "MetodoNaoPermitido", "Método não permitido.")
        if boleto is not None:
            return self._json(200, boleto)
        try:
            amount = Decimal(str(payload["valor"]))
            due = datetime.date.fromisoformat(payload["dataVencimento"])
        except (KeyError, ValueError, ArithmeticError):
            return self._problem(400, "BoletoInvalido", "valor e dataVencimento são obrigatórios.")
        nosso_numero = f"{len(account.boletos) + 1:017d}"
        bar = f"00190{nosso_numero}{int(amount * 100):010d}{due:%y%m%d}"
        digits = (bar + "0" * 47)[:47]
        boleto = {
            "seuNumero": seu_numero,
            "nossoNumero": nosso_numero,
            "valor": f"{amount:.2f}",
            "dataVencimento": due.isoformat(),
            "linhaDigitavel": digits,
            "codigoBarras": (bar + "0" * 44)[:44],
            "status": "REGISTRADO",
        }
        account.boletos[seu_numero] = boleto
        return self._json(201, boleto)

    # The debtor's side ---------------------------------------------------------------------------------------

    def end_to_end_id(self) -> str:
        stamp = self.now().strftime("%Y%m%d%H%M")
        return "E" + PAYER_ISPB + stamp + "".join(self.random.choices(string.ascii_letters + string.digits, k=11))

    def pay(self, name: str, txid: str, amount: Decimal | None = None, *, lose_webhook: bool = False) -> dict:
        """The debtor pays charge `txid` (its whole amount unless told): recorded, then the webhook unless lost."""
        with self.lock:
            account = self.account(name)
            charge = account.charges[txid]
            if charge["status"] != "ATIVA":
                raise ValueError(f"charge {txid} is {charge['status']}")
            charge["status"] = "CONCLUIDA"
            pix = {
                "endToEndId": self.end_to_end_id(),
                "txid": txid,
                "valor": f"{amount if amount is not None else Decimal(charge['valor']['original']):.2f}",
                "chave": charge["chave"],
                "horario": self.now().isoformat(),
                "infoPagador": "pagamento sandbox",
            }
            charge["pix"] = [pix]
            account.received.append(pix)
            url = account.webhooks.get(charge["chave"])
        if url and not lose_webhook:
            self.notify(account, url, [pix])
        return pix

    def refund(self, name: str, end_to_end_id: str, amount: Decimal) -> dict:
        """A devolução of a received PIX, notified as the standard does: the pix with its `devolucoes`."""
        with self.lock:
            account = self.account(name)
            pix = next(p for p in account.received if p["endToEndId"] == end_to_end_id)
            devolucao = {
                "id": "D" + hashlib.sha1(end_to_end_id.encode()).hexdigest()[:10],
                "rtrId": "D" + PAYER_ISPB + self.now().strftime("%Y%m%d%H%M") + "x" * 11,
                "valor": f"{amount:.2f}",
                "horario": {"solicitacao": self.now().isoformat(), "liquidacao": self.now().isoformat()},
                "status": "DEVOLVIDO",
            }
            pix.setdefault("devolucoes", []).append(devolucao)
            url = account.webhooks.get(pix["chave"])
        if url:
            self.notify(account, url, [pix])
        return devolucao

    def notify(self, account, url: str, pix: list) -> None:
        body = json.dumps({"pix": pix}).encode()
        target = url.rstrip("/") + "/pix"  # [API] the PSP appends /pix to the registered URL
        try:
            status = self.deliver(target, body) if self.deliver else None
        except Exception as error:  # the receiver is down: the PSP gives up, the pull recovers it
            status = repr(error)
        account.deliveries.append((target, status))

    def pay_boleto(self, name: str, seu_numero: str, amount: Decimal | None = None, on: datetime.date | None = None):
        with self.lock:
            boleto = self.account(name).boletos[seu_numero]
            boleto["status"] = "LIQUIDADO"
            boleto["valorPago"] = f"{amount if amount is not None else Decimal(boleto['valor']):.2f}"
            boleto["dataPagamento"] = (on or self.now().date()).isoformat()
            return boleto

    def cnab_retorno(self, name: str, *, bank: str = "001") -> str:
        """The CNAB 240 retorno of the account's paid boletos: header, lot header, T+U per boleto, trailers."""
        paid = [b for b in self.account(name).boletos.values() if b["status"] == "LIQUIDADO"]
        return build_cnab240_retorno(paid, bank=bank, generated=self.now())


def _n(value, size: int) -> str:
    text = str(value)
    return text.rjust(size, "0")[-size:]


def _a(value, size: int) -> str:
    return str(value).ljust(size)[:size]


def build_cnab240_retorno(boletos: list[dict], *, bank: str = "001", generated=None) -> str:
    """FEBRABAN CNAB 240 (v10.x) retorno de cobrança: positions as the layout's segment T and U tables."""
    generated = generated or datetime.datetime.now(datetime.UTC)
    lines = []
    header = _n(bank, 3) + "0000" + "0" + " " * 9 + "2" + _n("12345678000199", 14) + " " * 20
    header += _n(0, 5) + " " + _n(0, 12) + " " + " " + _a("SANDBOX COBRANCA", 30) + _a("BANCO SANDBOX", 30)
    header += " " * 10 + "2" + generated.strftime("%d%m%Y%H%M%S") + _n(1, 6) + "101" + "00000"
    lines.append(_a(header, 240))
    lot = _n(bank, 3) + "0001" + "1" + "T" + "01" + "  " + "060" + " " + "2" + _n("12345678000199", 15)
    lines.append(_a(lot, 240))
    seq = 0
    for boleto in boletos:
        paid_on = datetime.date.fromisoformat(boleto["dataPagamento"])
        due = datetime.date.fromisoformat(boleto["dataVencimento"])
        seq += 1
        t = _n(bank, 3) + "0001" + "3" + _n(seq, 5) + "T" + " " + "06"  # 1-17: movement 06, liquidação
        t += _n(0, 5) + " " + _n(0, 12) + " " + " "  # 18-37: agência, conta
        t += _a(boleto["nossoNumero"], 20)  # 38-57 nosso número
        t += "1" + _a(boleto["seuNumero"], 15)  # 58 carteira, 59-73 número do documento
        t += due.strftime("%d%m%Y") + _n(int(Decimal(boleto["valor"]) * 100), 15)  # 74-81, 82-96
        t += _n(0, 3) + _n(0, 5) + " " + _a(boleto["seuNumero"], 25)  # 97-132
        lines.append(_a(t, 240))
        seq += 1
        paid = int(Decimal(boleto["valorPago"]) * 100)
        u = _n(bank, 3) + "0001" + "3" + _n(seq, 5) + "U" + " " + "06"  # 1-17
        u += _n(0, 15) * 4  # 18-77: acréscimos, desconto, abatimento, IOF
        u += _n(paid, 15) + _n(paid, 15)  # 78-92 valor pago, 93-107 valor líquido
        u += _n(0, 15) * 2  # 108-137 outras despesas, outros créditos
        u += paid_on.strftime("%d%m%Y") + paid_on.strftime("%d%m%Y")  # 138-145 ocorrência, 146-153 crédito
        lines.append(_a(u, 240))
    lines.append(_a(_n(bank, 3) + "0001" + "5" + " " * 9 + _n(seq + 2, 6), 240))
    lines.append(_a(_n(bank, 3) + "9999" + "9" + " " * 9 + _n(1, 6) + _n(len(lines) + 1, 6), 240))
    return "\r\n".join(lines) + "\r\n"
