"""No worker, command or service imports an admin module: what the Carteira selects lives in core.wallet_filter,
which the admin, the command line and the worker share. Only an app's admin imports admin modules."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "dialer", "attendance")
# A benchmark of the Carteira's admin import itself, measured end to end as the browser drives it.
MEASURES_THE_ADMIN = {"core/management/commands/bench_admin_import.py"}


def imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_only_an_apps_admin_imports_admin_modules():
    offenders = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if path.name == "admin.py" or name in MEASURES_THE_ADMIN or "/migrations/" in name:
                continue
            admins = {m for m in imported_modules(path) if m.split(".")[0] in APPS and m.endswith(".admin")}
            offenders += [f"{name} imports {module}" for module in sorted(admins)]
    assert offenders == []
