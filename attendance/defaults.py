"""The planning document's five tabulações, available to every tenant."""

DEFAULT_DISPOSITION_TYPES = [
    ("Caixa Postal", "caixa_postal", 10),
    ("Ligação Interrompida", "ligacao_interrompida", 20),
    ("Contato Incorreto", "contato_incorreto", 30),
    ("Retornar", "retornar", 40),
    ("Negociar", "negociar", 50),
]


def ensure_default_disposition_types(model) -> None:
    """Idempotent; takes the model so a migration can pass its historical one."""
    for name, behavior, order in DEFAULT_DISPOSITION_TYPES:
        model.objects.get_or_create(tenant=None, behavior=behavior, defaults={"name": name, "order": order})
