"""What the commands that import a file share (the wallet's, core's import_wallet, and the payments',
attendance's import_payments): the file and tenant from their options, a line count for the progress bar and
the report of the rows refused."""

import csv
from pathlib import Path

from django.core.management.base import CommandError

from common.spreadsheets import neutralize_row
from tenants.models import Tenant


def file_and_tenant(options) -> tuple[Path, Tenant]:
    """The command's file and tenant, or a CommandError naming the one missing."""
    path: Path = options["file"]
    if not path.exists():
        raise CommandError(f"Arquivo não encontrado: {path}")
    try:
        return path, Tenant.objects.get(slug=options["tenant"])
    except Tenant.DoesNotExist:
        raise CommandError(f"Empresa não encontrada: {options['tenant']}") from None


def write_error_report(command, errors_path: Path, errors, key: str = "external_id") -> None:
    """The rows refused, as a CSV beside the file (line; key; error), and the first ten on the terminal."""
    with open(errors_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["linha", key, "erro"])
        writer.writerows(neutralize_row(error) for error in errors)
    command.stdout.write(command.style.WARNING(f"Relatório de erros: {errors_path}"))
    for line, identifier, message in errors[:10]:
        command.stdout.write(f"  linha {line} ({identifier or 'sem ' + key}): {message}")


def count_rows(path: Path) -> int | None:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return None
    with open(path, "rb") as handle:
        return max(sum(buf.count(b"\n") for buf in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)
