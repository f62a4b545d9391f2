import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.parsing import format_brl
from core.models import AGING_BUCKETS, Client, ClientStatus
from core.wallet_filter import WalletFilter
from dialer import eligibility, exports, tenant_api
from dialer.errors import DialerError
from dialer.models import DialerExport
from dialer.settings_schema import CAMPAIGN
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Envia clientes da carteira ao 3C Plus (o mesmo serviço do botão 'Enviar para discador')."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="identificador (slug) da empresa")
        parser.add_argument("--campaign", type=int, help="ID da campanha (padrão: a campanha padrão da empresa)")
        parser.add_argument("--creditor", action="append", default=[], help="nome ou ID do credor (repetível)")
        parser.add_argument("--status", action="append", default=[], choices=[s.value for s in ClientStatus])
        parser.add_argument("--aging", action="append", default=[], choices=[b[0] for b in AGING_BUCKETS])
        parser.add_argument("--limit", type=int, help="no máximo N clientes (os de maior saldo primeiro)")
        parser.add_argument("--list-name", default="")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--weight", type=int, help="peso da lista no 3C Plus, definido ao fim do envio")
        parser.add_argument(
            "--preview", action="store_true", help="só mostra quantos seriam enviados e por que os outros não"
        )
        parser.add_argument("--wait", action="store_true", help="envia agora, neste processo, com barra de progresso")

    def handle(self, *args, **options):
        try:
            tenant = Tenant.objects.get(slug=options["tenant"])
        except Tenant.DoesNotExist:
            raise CommandError(f"Empresa não encontrada: {options['tenant']}") from None
        campaign_id = options["campaign"] or tenant.setting(CAMPAIGN)
        if not campaign_id:
            raise CommandError("Informe --campaign: a empresa não tem campanha padrão.")
        try:
            campaign = next((c for c in tenant_api.campaigns(tenant) if c["id"] == campaign_id), None)
        except DialerError as error:
            raise CommandError(error.message) from None
        if campaign is None:
            raise CommandError(f"Campanha {campaign_id} não encontrada no 3C Plus.")

        wallet = WalletFilter.from_options(
            creditors=options["creditor"], statuses=options["status"], aging=options["aging"]
        )
        queryset = wallet.select(tenant)
        if options["limit"]:
            ids = list(
                eligibility.eligible(queryset, tenant, campaign_id)
                .order_by("-open_balance")
                .values_list("pk", flat=True)[: options["limit"]]
            )
            queryset = Client.objects.filter(pk__in=ids)
            if not ids and not options["preview"]:
                # Nobody may be dialled now (calling hours closed, all skipped): no export of nothing.
                self.stdout.write(
                    "Nenhum cliente desses filtros pode ser discado agora: nada foi enviado. "
                    "Os motivos aparecem com --preview (sem --limit)."
                )
                return

        if options["preview"]:
            self._print_preview(eligibility.preview(queryset, tenant, campaign_id))
            return

        selection = {k: options[k] for k in ("creditor", "status", "aging", "limit") if options[k]}
        export = exports.create_export(
            tenant,
            None,
            queryset,
            campaign_id=campaign_id,
            campaign_name=campaign["name"],
            list_name=options["list_name"],
            selection=selection,
            batch_size=options["batch_size"],
            list_weight=options["weight"],
            enqueue=not options["wait"],  # --wait sends in this process; no worker should also pick it up
        )
        self.stdout.write(
            f"Envio #{export.pk}: {export.to_send_count} clientes ({export.phones_count} telefones) para "
            f"'{export.campaign_name}'; {export.selected_count - export.to_send_count} ignorados."
        )
        for reason, count in export.skipped.items():
            self.stdout.write(f"  ignorados — {eligibility.reason_label(reason)}: {count}")
        if not options["wait"]:
            self.stdout.write("Na fila: o worker (manage.py db_worker) fará o envio.")
            return
        started = time.perf_counter()
        with tqdm(total=export.to_send_count, unit=" clientes") as bar:

            def progress(processed):
                bar.n = processed
                bar.refresh()

            result = exports.run_export(export.pk, progress=progress)
            progress(result.processed)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"{result.get_status_display()}: {result.sent_count} enviados, {result.failed_count} com falha "
            f"em {elapsed:.1f}s."
        )
        if result.error_summary:
            self.stdout.write(self.style.WARNING(result.error_summary))
        if result.status == DialerExport.Status.FAILED:
            raise CommandError("O envio falhou.")

    def _print_preview(self, preview):
        self.stdout.write(
            f"{preview['selected']} selecionados; {preview['to_send']} seriam enviados "
            f"({preview['phones']} telefones, saldo {format_brl(preview['balance'])})."
        )
        if preview.get("window_text"):
            self.stdout.write(f"  {preview['window_text']}")
        for label, count in preview["held_labels"]:
            self.stdout.write(f"  aguardando — {label}: {count}")
        for label, count in preview["skipped_labels"]:
            self.stdout.write(f"  ignorados — {label}: {count}")
        if preview["opens"]:
            self.stdout.write(f"  fora do horário abrem: {eligibility.opens_text(preview['opens'])}")
