"""`client_in`: the export's id lists as one array parameter on PostgreSQL."""

from django.db.models import F, Lookup


class _AnyOf(Lookup):
    """`column IN (ids)` for thousands of ids: on PostgreSQL one array parameter (`= ANY(%s)`) instead of one
    placeholder per id, which costs more to build and to send than the statement's work. Ids only: the array goes
    as its text form, which the driver need not inspect value by value."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self):
        return [int(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        placeholders = ", ".join(["%s"] * len(self.rhs))
        return f"{lhs} IN ({placeholders})", (*lhs_params, *self.rhs)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s::bigint[])", (*lhs_params, "{" + ",".join(map(str, self.rhs)) + "}")


def client_in(ids, field="client_id"):
    return _AnyOf(F(field), list(ids))
