"""The registries: where an open set of apps contributes to something a lower app runs, without it importing them.

Only for an open set (any app may add a timeline source or hear that a contact is off limits). A function with one
provider and one consumer is imported where it is used instead. The settings sections are the same kind of
registry one layer down, in tenants.settings_schema, since tenants registers its own.
"""

from collections.abc import Callable, Iterator


class Hooks:
    """Functions other apps register here from their AppConfig.ready(), for a lower app to call."""

    def __init__(self):
        self._hooks: list[Callable] = []

    def register(self, hook):
        if hook not in self._hooks:
            self._hooks.append(hook)
        return hook

    def __iter__(self) -> Iterator[Callable]:
        return iter(list(self._hooks))

    def __call__(self, *args, **kwargs) -> None:
        for hook in self:
            hook(*args, **kwargs)


class BatchHooks(Hooks):
    """Hooks on one item that may also hear many at once: a hook registered with `many` (items, **kwargs) takes a
    list in one call (a file import that paid off 20,000 clients is one query, not 20,000); the others are called
    once per item."""

    def __init__(self):
        super().__init__()
        self._many: dict[Callable, Callable] = {}

    def register(self, hook, many: Callable | None = None):
        super().register(hook)
        if many is not None:
            self._many[hook] = many
        return hook

    def many(self, items, **kwargs) -> None:
        items = list(items)
        if not items:
            return
        for hook in self:
            if hook in self._many:
                self._many[hook](items, **kwargs)
            else:
                for item in items:
                    hook(item, **kwargs)


# (client, before, limit) -> [core.timeline.Entry]: a source of the client's timeline (core.timeline.page).
timeline_sources = Hooks()

# (client, phones=None | [E.164], reason, user): these contacts must not be called any more (core.services.
# stop_calling; stop_calling_clients for many clients at once, through .many). The dialer registers its removal from
# the 3C Plus lists, with its batch variant.
stop_calling_hooks = BatchHooks()
on_stop_calling = stop_calling_hooks.register

# (tenant, client, behavior, *, call_id, operator, note, at): a call was qualified inside the dialer, not on our
# page. The dialer cannot import what sits above it; the atendimento registers the tabulação it records.
call_qualified = Hooks()

# (tenant, client, *, call_id, at): a call qualified inside the dialer with a "retornar" qualification asks for a
# callback. The atendimento registers the callback it schedules.
callback_requested = Hooks()

# (tenant, now, among: Q on client_id) -> Q of clients | None: clients held off the dialer's lists for now (a
# callback scheduled for later). The atendimento registers its pending callbacks; dialer.holds reads them.
dial_holds = Hooks()

# (tenant, installments) -> {installment id: {"code": copia e cola, "amount": Decimal, "boleto_line": str}}: charges a
# payments provider holds for agreement installments. The atendimento shows them instead of its static PIX code.
installment_charges = Hooks()

# kind -> core.import_jobs.FileKind: the files the worker imports in the background from an admin upload, with a
# progress page (WalletImport.kind). core registers the Carteira's; attendance registers its payment files.
file_kinds: dict = {}
