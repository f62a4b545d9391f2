"""The API Pix (Banco Central's standard) and the boleto registration: the only code that talks HTTP to the PSP.

Security as the standard asks: OAuth2 client credentials (POST /oauth/token, HTTP Basic client_id:secret) over
mutual TLS (the tenant's certificate and key, loaded into the TLS context). Errors are the ProviderError family.

Retries, only where a repeat cannot do anything twice:
- PUT /cob/{txid}, PUT /cobv/{txid} carry OUR txid, stored on the charge before the call: a repeat of the same
  PUT names the same charge (the standard's PUT creates or revises the charge under that txid), so a retry after a
  timeout or a 5xx leaves one charge. Same for PUT /boletos/{seu número} and PUT /webhook/{chave}.
- PATCH status=REMOVIDA_PELO_USUARIO_RECEBEDOR sets a state, not a delta: repeating it changes nothing.
- GETs and the token request (no side effect at the PSP).
Nothing here POSTs a resource without our own id, so no call is left unretriable; UnknownOutcomeError stays for one.
"""

import contextlib
import datetime
import logging
import os
import random
import ssl
import tempfile
import time
from decimal import Decimal
from urllib.parse import quote

import httpx
from django.utils.translation import gettext as _

from payments.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RefusedError,
    UnavailableError,
)
from payments.settings_schema import EFI, ProviderConfig

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
MAX_PAGES = 50
PER_PAGE = 500
MAX_ANSWER_BYTES = 2 << 20
REMOVED = "REMOVIDA_PELO_USUARIO_RECEBEDOR"


def _segment(value: str) -> str:
    segment = quote(str(value), safe="")
    return segment.replace(".", "%2E") if set(segment) <= {"."} else segment


def ssl_context(certificate: str, private_key: str) -> ssl.SSLContext:
    """A TLS context presenting the tenant's client certificate (mTLS). The PEMs go through a private temporary
    directory only for the time load_cert_chain reads them (it reads files only)."""
    context = ssl.create_default_context()
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = os.path.join(folder, "c.pem"), os.path.join(folder, "k.pem")
        for path, text in ((cert_path, certificate), (key_path, private_key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, ValueError) as error:
            raise AuthenticationError(_("O certificado ou a chave do PSP não puderam ser lidos.")) from error
    return context


class PixAPI:
    def __init__(self, config: ProviderConfig, *, attempts: int = 3, base_delay: float = 0.5, sleep=time.sleep):
        self.config = config
        self.attempts = attempts
        self.base_delay = base_delay
        self.sleep = sleep
        verify = ssl_context(config.certificate, config.private_key) if config.certificate else True
        self.http = httpx.Client(timeout=TIMEOUT, verify=verify, follow_redirects=False)
        self._token: str | None = None
        self._token_expires = 0.0

    def close(self):
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Plumbing ----------------------------------------------------------------------------------------------------

    def _token_path(self) -> str:
        return "/oauth/token"

    def _api_prefix(self) -> str:
        return "/v2"

    def token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        answer = self._send(
            "POST",
            self.config.base_url + self._token_path(),
            auth=(self.config.client_id, self.config.client_secret),
            data={"grant_type": "client_credentials"},
            authenticated=False,
        )
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise MalformedResponseError(_("O PSP não devolveu um token de acesso."))
        expires = answer.get("expires_in")
        expires = expires if isinstance(expires, int) and 0 < expires < 86400 * 30 else 300
        self._token, self._token_expires = token, time.monotonic() + expires - 30
        return token

    def _send(self, method, url, *, authenticated=True, **kwargs):
        """One request with the retries above (every request here is one of the safe kinds)."""
        for attempt in range(1, self.attempts + 1):
            headers = {"Accept": "application/json"}
            if authenticated:
                headers["Authorization"] = f"Bearer {self.token()}"
            try:
                response = self.http.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as error:
                failure = UnavailableError(
                    _("O PSP não respondeu (%(e)s).") % {"e": type(error).__name__}, detail=type(error).__name__
                )
            else:
                if response.status_code == 401 and authenticated and attempt == 1:
                    self._token = None  # expired early: one new token, then the same request
                    continue
                if response.status_code < 500 and response.status_code != 429:
                    return self._read(response)
                failure = UnavailableError(
                    _("O PSP respondeu com o erro %(s)s.") % {"s": response.status_code}, status=response.status_code
                )
            if attempt < self.attempts:
                self.sleep(min(8.0, self.base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))
        raise failure

    def _read(self, response: httpx.Response):
        if len(response.content) > MAX_ANSWER_BYTES:
            raise MalformedResponseError(_("Resposta do PSP grande demais."), status=response.status_code)
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        status = response.status_code
        if status < 300:
            if data is None:
                raise MalformedResponseError(_("O PSP respondeu algo que não é JSON."), status=status)
            return data
        problem = data if isinstance(data, dict) else {}
        detail = str(problem.get("detail") or problem.get("title") or problem.get("error") or "")[:300]
        if status in (401, 403):
            raise AuthenticationError(
                "O PSP recusou as credenciais (client_id, secret ou certificado).", status=status, detail=detail
            )
        violations = problem.get("violacoes") if isinstance(problem.get("violacoes"), list) else []
        reasons = "; ".join(str(v.get("razao", ""))[:100] for v in violations[:5] if isinstance(v, dict))
        kind = NotFoundError if status == 404 else RefusedError
        raise kind(
            _("O PSP recusou a operação (%(s)s): %(why)s")
            % {"s": status, "why": reasons or detail or _("sem detalhe")},
            status=status,
            detail=detail,
            violations=violations,
        )

    def _api(self, method, path, **kwargs):
        return self._send(method, self.config.base_url + self._api_prefix() + path, **kwargs)

    # The standard --------------------------------------------------------------------------------------------

    def put_cob(self, txid: str, *, amount: Decimal, expires_seconds: int = 86400, debtor=None, message=""):
        body = {"calendario": {"expiracao": expires_seconds}, "valor": {"original": f"{amount:.2f}"}}
        body["chave"] = self.config.pix_key
        if debtor:
            body["devedor"] = debtor
        if message:
            body["solicitacaoPagador"] = message[:140]
        return self._charge_answer(self._api("PUT", f"/cob/{_segment(txid)}", json=body))

    def put_cobv(
        self,
        txid: str,
        *,
        amount: Decimal,
        due_date: datetime.date,
        debtor: dict,
        days_after_due: int = 30,
        fine_percent: Decimal | None = None,
        interest_percent_month: Decimal | None = None,
        discount_percent: Decimal | None = None,
        message: str = "",
    ):
        """A charge with due date. Fine: modalidade 2 (percent); interest: modalidade 3 (percent a month, calendar
        days); discount: modalidade 3 (percent until the due date)."""
        valor = {"original": f"{amount:.2f}"}
        if fine_percent:
            valor["multa"] = {"modalidade": "2", "valorPerc": f"{fine_percent:.2f}"}
        if interest_percent_month:
            valor["juros"] = {"modalidade": "3", "valorPerc": f"{interest_percent_month:.2f}"}
        if discount_percent:
            valor["desconto"] = {"modalidade": "3", "valorPerc": f"{discount_percent:.2f}"}
        body = {
            "calendario": {"dataDeVencimento": due_date.isoformat(), "validadeAposVencimento": days_after_due},
            "devedor": debtor,
            "valor": valor,
            "chave": self.config.pix_key,
        }
        if message:
            body["solicitacaoPagador"] = message[:140]
        return self._charge_answer(self._api("PUT", f"/cobv/{_segment(txid)}", json=body))

    def get_charge(self, kind: str, txid: str) -> dict:
        return self._charge_answer(self._api("GET", f"/{kind}/{_segment(txid)}"))

    def cancel_charge(self, kind: str, txid: str) -> dict:
        return self._charge_answer(self._api("PATCH", f"/{kind}/{_segment(txid)}", json={"status": REMOVED}))

    def _charge_answer(self, data) -> dict:
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise MalformedResponseError(_("A resposta não é uma cobrança da API Pix."))
        code = data.get("pixCopiaECola")
        if code is not None and (not isinstance(code, str) or len(code) > 512 or not code.isascii()):
            raise MalformedResponseError(_("pixCopiaECola inválido na resposta do PSP."))
        return data

    def received_pix(self, start: datetime.datetime, end: datetime.datetime) -> list[dict]:
        """GET /pix?inicio&fim, every page (at most MAX_PAGES)."""
        found = []
        for page in range(MAX_PAGES):
            params = {
                "inicio": start.isoformat(),
                "fim": end.isoformat(),
                "paginacao.paginaAtual": page,
                "paginacao.itensPorPagina": PER_PAGE,
            }
            data = self._api("GET", "/pix", params=params)
            items = data.get("pix") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise MalformedResponseError(_("A resposta não é uma lista de PIX recebidos."))
            found.extend(items)
            pages = (((data.get("parametros") or {}).get("paginacao")) or {}).get("quantidadeDePaginas")
            if not isinstance(pages, int) or page + 1 >= pages:
                return found
        logger.warning("GET /pix passou de %s páginas; o resto fica para a próxima leitura", MAX_PAGES)
        return found

    def put_webhook(self, key: str, url: str) -> None:
        self._api("PUT", f"/webhook/{_segment(key)}", json={"webhookUrl": url})

    def get_webhook(self, key: str) -> dict:
        return self._api("GET", f"/webhook/{_segment(key)}")

    # Boleto ---------------------------------------------------------------------------------------------------

    def register_boleto(self, our_number: str, *, amount: Decimal, due_date: datetime.date, payer: dict) -> dict:
        body = {"valor": f"{amount:.2f}", "dataVencimento": due_date.isoformat(), "pagador": payer}
        url = f"{self.config.boleto_base_url}/v1/boletos/{_segment(our_number)}"
        data = self._send("PUT", url, json=body)
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data[k].isascii() and len(data[k]) <= 60
            for k in ("nossoNumero", "linhaDigitavel")
        ):
            raise MalformedResponseError(_("A resposta não é um boleto registrado."))
        return data

    def cancel_boleto(self, our_number: str) -> dict:
        url = f"{self.config.boleto_base_url}/v1/boletos/{_segment(our_number)}"
        return self._send("PATCH", url, json={"status": "BAIXADO"})


class EfiPixAPI(PixAPI):
    """Efí (ex-Gerencianet) implements the standard itself under /v2 with the token at /oauth/token and mTLS
    required on every host: the standard client, named, with Efí's hosts as defaults (settings_schema)."""


def api_for_config(config: ProviderConfig, **kwargs) -> PixAPI:
    return (EfiPixAPI if config.provider == EFI else PixAPI)(config, **kwargs)


@contextlib.contextmanager
def opened(config: ProviderConfig, **kwargs):
    api = api_for_config(config, **kwargs)
    try:
        yield api
    finally:
        api.close()


__all__ = ["PixAPI", "ProviderError", "api_for_config", "opened"]
