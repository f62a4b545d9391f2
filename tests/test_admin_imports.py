"""No worker, command or service imports an admin module: what the Carteira selects lives in core.wallet_filter,
which the admin, the command line and the worker share. A module imports only its own app's admin modules; an
app's admin may also build on tenants.admin_base, the tenant-scoped admin base every app's admin shares."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "dialer", "attendance")
OURS = ("common", "tenants", "core", "dialer", "attendance", "dashboard", "config", "sandbox", "benchmarks")
SHARED_ADMIN_BASE = "tenants.admin_base"


def imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            package = ROOT.joinpath(*node.module.split("."))
            yield from (f"{node.module}.{a.name}" for a in node.names if (package / f"{a.name}.py").exists())


def is_admin_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] in OURS and any(part in ("admin", "admin_base") or part.endswith("_admin") for part in parts[1:])


def test_a_module_imports_only_its_own_apps_admin_modules():
    offenders = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if "/migrations/" in name:
                continue
            importer_is_admin = is_admin_module(f"{app}.{path.stem}")
            for module in sorted(set(imported_modules(path))):
                if not is_admin_module(module) or module.split(".")[0] == app:
                    continue
                if importer_is_admin and module.startswith(SHARED_ADMIN_BASE):
                    continue
                offenders.append(f"{name} imports {module}")
    assert offenders == []
