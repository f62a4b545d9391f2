"""The legal calling windows for debt collection, per UF: reviewed data, not a migration.

Each row is the strictest window we could establish from the state's own law, with its source; a state where no
collection-hours law was found carries the national baseline (CDC art. 42 and 71, which forbid a collection that
interferes with the debtor's work, rest or leisure, read as the market's practice: weekdays 08–20, Saturday 08–14,
never on Sundays or holidays) and says so. Laws that regulate only telemarketing offers (not collection) are named in
the note of their state but do not set its window. Fernando de Noronha follows Pernambuco's law.

Windows use the settings' format ("08:00-20:00", shifts separated by commas, "" closed all day). The channels say
which kinds of contact the state's law names; for a channel it does not name, the national baseline applies.

To review a row: change it here, with its source, in a commit of its own. A tenant can tighten any window
(dialer.models.CallingWindowOverride) and widen one only with a written, audited reason.
"""

import dataclasses
import re
import unicodedata

from django.utils.translation import gettext_lazy as _

VOICE = "voz"
SMS = "sms"
WHATSAPP = "whatsapp"
CHANNELS = {VOICE: _("ligação"), SMS: _("SMS"), WHATSAPP: _("WhatsApp/mensagens")}

DAY_KINDS = ("weekdays", "saturday", "sunday", "holidays")
NOT_FOUND = "sem lei estadual encontrada; padrão nacional"


@dataclasses.dataclass(frozen=True)
class StateRule:
    uf: str
    weekdays: str
    saturday: str
    sunday: str
    holidays: str
    source: str  # law, year and article, in Portuguese, as the preview and the header show it
    url: str = ""
    channels: frozenset = frozenset({VOICE})
    state_law: bool = True  # False: no state law found, the national baseline
    note: str = ""  # what else was found and why it does not set the window

    def hours(self) -> dict:
        return {kind: getattr(self, kind) for kind in DAY_KINDS}


NATIONAL_SOURCE = "CDC, Lei federal nº 8.078/1990, arts. 42 e 71"
NATIONAL_PRACTICE = (
    "A cobrança não pode interferir no trabalho, descanso ou lazer do devedor; prática de mercado: seg–sex 08–20, "
    "sábado 08–14, nunca domingo ou feriado."
)
NATIONAL_URL = "https://www.planalto.gov.br/ccivil_03/leis/l8078compilado.htm"


def _national(uf: str, note: str = "") -> StateRule:
    return StateRule(
        uf=uf,
        weekdays="08:00-20:00",
        saturday="08:00-14:00",
        sunday="",
        holidays="",
        source=f"{NOT_FOUND} ({NATIONAL_SOURCE})",
        url=NATIONAL_URL,
        channels=frozenset({VOICE, SMS, WHATSAPP}),
        state_law=False,
        note=f"{NATIONAL_PRACTICE} {note}".strip(),
    )


NATIONAL = _national("")

_STATE_LAWS = [
    StateRule(
        uf="SP",
        weekdays="08:00-20:00",
        saturday="08:00-14:00",
        sunday="",
        holidays="",
        source="Lei estadual nº 15.426/2014 (SP), art. 2º",
        url="https://efic.com.br/?p=368",
        channels=frozenset({VOICE}),
        note="Telefonemas de cobrança; feriados vedados; domingo fora dos dias permitidos.",
    ),
    StateRule(
        uf="RJ",
        weekdays="09:00-19:00",
        saturday="",
        sunday="",
        holidays="",
        source="Lei estadual nº 7.868/2018 (RJ), que alterou a Lei nº 6.854/2014 (cobrança de dívidas)",
        url="https://efic.com.br/?p=368",
        channels=frozenset({VOICE}),
        note=(
            "Janela seg–sex 09–19, sem sábado, domingo ou feriado (pesquisa da issue 26 e efic.com.br); o artigo "
            "exato não foi confirmado no texto consolidado consultado (normasbrasil.com.br, Lei 6.854/2014)."
        ),
    ),
    StateRule(
        uf="ES",
        weekdays="08:00-19:00",
        saturday="",
        sunday="",
        holidays="",
        source="Lei estadual nº 10.626/2017 (ES)",
        url="https://efic.com.br/?p=368",
        channels=frozenset({VOICE}),
        note="Seg–sex 08–19; sábado, domingo e feriado proibidos (efic.com.br; artigo não confirmado).",
    ),
    StateRule(
        uf="AM",
        weekdays="08:00-18:00",
        saturday="08:00-14:00",
        sunday="",
        holidays="",
        source="Lei estadual do AM (dep. Abdala Fraxe) sobre cobrança e venda por telefone, posterior à Lei "
        "Promulgada nº 306/2016",
        url="https://amnews.com.br/nova-lei-proibe-cobrancas-por-telefone-fora-do-horario-comercial",
        channels=frozenset({VOICE}),
        note=(
            "A lei mais recente permite seg–sex 08–18 e sábado 08–14 e prevalece sobre a Lei Promulgada nº 306/2016 "
            "(até 19h, sem sábado, segundo efic.com.br); número da lei nova não confirmado."
        ),
    ),
    StateRule(
        uf="AL",
        weekdays="08:00-20:00",
        saturday="08:00-14:00",
        sunday="",
        holidays="",
        source="Lei estadual nº 7.782/2016 (AL)",
        url="https://7segundos.com.br/arapiraca/noticias/2018/04/16/92926-cobrancas-via-telefone-e-sms-sao-orientadas-pelo-procon-arapiraca",
        channels=frozenset({VOICE, SMS}),
        note="Telefonemas e mensagens de texto de cobrança; domingo e feriados proibidos.",
    ),
    StateRule(
        uf="CE",
        weekdays="08:00-18:00",
        saturday="",
        sunday="",
        holidays="",
        source="Lei estadual nº 16.836/2019 (CE)",
        url="https://olagoa.com.br/cotidiano/lei-estabelece-horarios-para-ligacoes-por-empresas-de-telemarketing/",
        channels=frozenset({VOICE, SMS, WHATSAPP}),
        note="Cobrança de débitos por ligação, SMS, WhatsApp ou outro meio telefônico: seg–sex 08–18; sábado, "
        "domingo e feriados vedados.",
    ),
]

_NOTES = {
    "DF": "Lei distrital nº 6.305/2019 (seg–sex 09–20, sábado 09–13) trata de oferta de produtos e serviços "
    "(telemarketing), não de cobrança.",
    "MG": "Lei estadual nº 19.095/2010, art. 6º, trata de marketing direto ativo (ofertas); o PL 484/2019, que "
    "limitaria a cobrança a seg–sex 09–18 e sábado 10–13, foi aprovado em 2º turno em 2021, sem sanção confirmada.",
    "PE": "Lei nº 13.796/2009, art. 3º-A (ofertas por telemarketing), foi revogada pela Lei nº 16.559/2019 (Código "
    "Estadual de Defesa do Consumidor); nenhuma regra de horário de cobrança encontrada.",
    "MS": "PL 130/2025 (seg–sex 08–18, sem sábado) em tramitação na ALEMS; não é lei.",
    "PR": "Lei estadual nº 16.135/2009 cria cadastro de bloqueio de telemarketing; sem horário de cobrança.",
}

RULES: dict[str, StateRule] = {rule.uf: rule for rule in _STATE_LAWS}
ALL_UFS = (
    *("AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA"),
    *("PB", "PE", "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO"),
)
for _uf in ALL_UFS:
    RULES.setdefault(_uf, _national(_uf, _NOTES.get(_uf, "")))


def rule_for(region: str, channel: str = VOICE) -> StateRule:
    """The law's rule for a region (a UF, "NORONHA" for Fernando de Noronha, "" unknown) and channel."""
    uf = "PE" if region == "NORONHA" else region
    rule = RULES.get(uf)
    if rule is None:
        return NATIONAL
    if channel not in rule.channels:
        return dataclasses.replace(NATIONAL, uf=uf)
    return rule


def city_key(city: str) -> str:
    """ "São  Paulo " → "sao paulo": a city name as municipal holidays and clients are matched."""
    decomposed = unicodedata.normalize("NFKD", str(city or ""))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())[:100]


_ACCENTED = {
    "a": "aáàâãä",
    "e": "eéèêë",
    "i": "iíìîï",
    "o": "oóòôõö",
    "u": "uúùûü",
    "c": "cç",
    "n": "nñ",
}


def city_regex(key: str) -> str:
    """A regular expression matching a client's city whatever its accents, case and spacing: both databases run
    it (SQLite through Python's re, PostgreSQL's ~), with both cases spelled out so no collation is assumed."""
    parts = []
    for word in key.split():
        letters = []
        for char in word:
            variants = _ACCENTED.get(char, char)
            options = "".join(dict.fromkeys(variants + variants.upper()))
            letters.append(f"[{re.escape(options)}]" if len(options) > 1 else re.escape(char))
        parts.append("".join(letters))
    return r"^\s*" + r"\s+".join(parts) + r"\s*$"
