"""Search text folded the same way in Python, in PostgreSQL and in SQLite: "Jéssica" and "JESSICA" are
"jessica", "São Paulo" is "sao paulo".

Each client keeps its name and city folded in Client.search_text, which the Carteira's search reads (a
trigram index on PostgreSQL): folding a million names at every search would be far too slow. Python folds
on the write paths (save, bulk_create, the import); a database function, `wallet_fold`, folds identically
where rows are changed in SQL (QuerySet.update, the backfill of migration 0011): created by migration 0010
on PostgreSQL, registered from Python on every SQLite connection. It is a plain translate() of the accented
letters Portuguese (and the odd Spanish or French name) uses and of A–Z: independent of the database's
locale, which lower() and unaccent() are not.
"""

from django.db.models import CharField, Func

from common.parsing import strip_accents

FOLD_FROM = "ÁÀÂÃÄÅáàâãäåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÕÖóòôõöÚÙÛÜúùûüÇçÑñÝýÿABCDEFGHIJKLMNOPQRSTUVWXYZ"
FOLD_TO = strip_accents(FOLD_FROM).lower()
FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)
# The SQL of the function; the migration creates it on PostgreSQL (its text is part of the index definition).
FOLD_FUNCTION_SQL = (
    "CREATE OR REPLACE FUNCTION wallet_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    f"AS $$ SELECT translate($1, '{FOLD_FROM}', '{FOLD_TO}') $$"
)


def fold(text) -> str:
    """The search form of a text, as wallet_fold() computes it in the database."""
    return str(text or "").translate(FOLD_TABLE)


def client_search_text(name, city) -> str:
    """A client's search_text: its name and city folded, as one text the search's words are looked for in."""
    return f"{fold(name)} {fold(city)}"


class Fold(Func):
    """wallet_fold(expression), in SQL."""

    function = "wallet_fold"
    output_field = CharField()


def register_sqlite_fold(sender, connection, **kwargs):
    """Connected to connection_created (CoreConfig.ready)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("wallet_fold", 1, _sqlite_fold, deterministic=True)


def _sqlite_fold(text):
    return None if text is None else fold(text)
