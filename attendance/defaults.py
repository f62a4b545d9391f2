"""The five standard tabulações, available to every tenant: Caixa Postal, Ligação Interrompida, Contato
Incorreto, Retornar and Negociar."""

DEFAULT_DISPOSITION_TYPES = [
    ("Caixa Postal", "caixa_postal", 10),
    ("Ligação Interrompida", "ligacao_interrompida", 20),
    ("Contato Incorreto", "contato_incorreto", 30),
    ("Retornar", "retornar", 40),
    ("Negociar", "negociar", 50),
]

# Of the defaults, these mean the operator spoke to the debtor (a right-party contact).
DEBTOR_CONTACT_BEHAVIORS = ("retornar", "negociar")


def ensure_default_disposition_types(model) -> None:
    """Idempotent; takes the model so a migration can pass its historical one."""
    # The migration that first seeds them runs before the flag existed.
    has_flag = any(field.name == "debtor_contact" for field in model._meta.get_fields())
    for name, behavior, order in DEFAULT_DISPOSITION_TYPES:
        defaults = {"name": name, "order": order}
        if has_flag:
            defaults["debtor_contact"] = behavior in DEBTOR_CONTACT_BEHAVIORS
        model.objects.get_or_create(tenant=None, behavior=behavior, defaults=defaults)
