"""What the Carteira selects has one home (core.wallet_filter): the page's boxes and search, the command line's
options and the worker's replay of a stored query string all select the same clients."""

import datetime
from decimal import Decimal

import pytest

from core import services as core_services
from core.models import Client, Creditor
from core.wallet_filter import InvalidWalletFilter, WalletFilter

CHANGELIST = "/admin/core/client/"
TODAY = datetime.date.today()


@pytest.fixture
def wallet(tenant, creditor, make_client, other_tenant):
    other_creditor = Creditor.objects.create(tenant=tenant, name="Varejo Sol")
    make_client(name="Ana Recente", debts=((Decimal("80"), 10),), state="SP", city="São Paulo")
    make_client(name="Bruno Atrasado", debts=((Decimal("500"), 100),), state="RJ", city="Niterói")
    make_client(name="Carla Sem Fone", phones=(), debts=((Decimal("9000"), 200),), state="SP", city="Campinas")
    make_client(name="Davi Varejo", creditor=other_creditor, debts=((Decimal("300"), 400),), state="MG")
    make_client(name="Eva Quitada", status=Client.Status.PAID, debts=())
    marked = make_client(name="Fábio Não Ligar", debts=((Decimal("700"), 95),), city="sao paulo")
    core_services.set_do_not_call(marked, "pedido_devedor")
    make_client(tenant=other_tenant, name="Gil de Outra Empresa", debts=((Decimal("500"), 100),))
    return {"creditor": creditor, "other_creditor": other_creditor}


def queries(wallet):
    return [
        "",
        f"creditor__id__exact={wallet['other_creditor'].pk}",
        "status__exact=quitado",
        "atraso=91_180",
        "atraso=a_vencer",
        f"oldest_due_date_from={TODAY - datetime.timedelta(days=150)}&oldest_due_date_to={TODAY}",
        "oldest_due_date_from=nao-e-data",
        "open_balance_from=100&open_balance_to=1000",
        "open_balance_from=abc&open_balance_to=1000",
        "uf=SP",
        "city__icontains=S%C3%A3o+Paulo",
        "discavel=sim",
        "discavel=nao",
        "nao_ligar=sim",
        "nao_ligar=nao",
        "q=atrasado",
        "status=quitado",
        "uf=SP&discavel=sim&o=-4&p=1",
        f"creditor__id__exact={wallet['creditor'].pk}&atraso=91_180&open_balance_from=100",
    ]


def test_the_page_and_the_replay_select_the_same_clients(client, tenant_admin, tenant, wallet):
    client.force_login(tenant_admin)
    selections = set()
    for query in queries(wallet):
        page = client.get(f"{CHANGELIST}?{query}")
        assert page.status_code == 200, query
        shown = set(page.context["cl"].queryset.values_list("pk", flat=True))
        replayed = set(WalletFilter.from_query(query).select(tenant).values_list("pk", flat=True))
        assert shown == replayed, query
        selections.add(frozenset(replayed))
        assert set(WalletFilter.from_query(WalletFilter.from_query(query).to_query()).select(tenant)) == set(
            Client.objects.filter(pk__in=replayed)
        ), f"round trip of {query}"
    assert len(selections) > 10, "the boxes select different clients"


def test_the_stored_form_is_a_query_string_that_reads_back_as_the_same_filter():
    wallet_filter = WalletFilter(
        creditor_ids=(3, 4),
        creditor_names=("Banco Sol",),
        statuses=("em_aberto",),
        aging=("91_180", "181_360"),
        due_from=datetime.date(2026, 1, 2),
        balance_to=Decimal("1000.50"),
        state="SP",
        city="Campinas",
        dialable="sim",
        do_not_call="nao",
        search="maria",
        lookups=(("status", ("quitado",)),),
    )
    assert WalletFilter.from_query(wallet_filter.to_query()) == wallet_filter
    assert WalletFilter.from_query("atraso=91_180&o=-2&p=3").to_query() == "atraso=91_180"


def test_the_command_lines_options_build_the_same_filter(tenant, wallet):
    by_name = WalletFilter.from_options(creditors=["varejo sol"], statuses=["em_aberto"], aging=["360_mais"])
    by_id = WalletFilter.from_options(creditors=[str(wallet["other_creditor"].pk)], statuses=["em_aberto"])
    assert [c.name for c in by_name.select(tenant)] == ["Davi Varejo"]
    assert [c.name for c in by_id.select(tenant)] == ["Davi Varejo"]
    assert not WalletFilter.from_options(creditors=["Ninguém"]).select(tenant).exists()


@pytest.mark.parametrize("query", ["creditor__id__exact=abc", "creditor__name=Sol", "nao_existe=1"])
def test_a_query_string_that_no_longer_applies_is_refused(tenant, query):
    with pytest.raises(InvalidWalletFilter):
        WalletFilter.from_query(query).select(tenant)
