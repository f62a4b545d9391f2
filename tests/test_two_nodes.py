"""Two nodes, one product: two uvicorn processes on different ports and two workers against one database.

A webhook received by node B pops the console waiting on node A (PostgreSQL's NOTIFY reaches every node's LISTEN),
the two workers drain one queue with each task run once, and, where nginx is installed, the repository's proxy
config (deploy/nginx/cobranca.conf) in front of both nodes carries the stream and the webhook."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django_tasks_db.models import DBTaskResult

from common.processes import database_url, stop
from core.tasks import prune_import_reports
from tenants.models import Role
from tests.apart import run_apart
from tests.attendance.test_call_stream import Stream, agent, connected, post, session_cookie
from tests.conftest import free_port, make_user, start_asgi_server

pytestmark = pytest.mark.django_db(transaction=True)
CONFIG = Path(settings.BASE_DIR) / "deploy" / "nginx" / "cobranca.conf"


@pytest.fixture
def two_nodes(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.skip("dois nós se falam pelo LISTEN/NOTIFY e pela fila do PostgreSQL; o SQLite é de um nó só")
        url = database_url(connection.settings_dict)
    ports = free_port(), free_port()
    nodes = []
    try:
        for port in ports:
            nodes.append(start_asgi_server(url, port))
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for node in nodes:
            stop(node)


def pop_through(stream_base: str, webhook_base: str, tenant, cookie) -> dict:
    """A console waiting on stream_base, a call delivered to webhook_base: the event the console got."""

    async def scenario():
        async with (
            httpx.AsyncClient(base_url=stream_base, timeout=30) as console,
            httpx.AsyncClient(base_url=webhook_base, timeout=30) as dialer,
        ):
            async with Stream(console, cookie) as stream:
                assert (await stream.next())[0] == "pronto"
                call_id = f"node-{time.monotonic_ns()}"
                assert (await post(dialer, tenant, connected(call_id, "2001"))).status_code == 201
                event = await stream.next()
                assert event is not None, "a ligação não chegou ao console"
                assert event[0] == "chamada" and event[2]["chamada"]["id"] == call_id
                return event[2]

    return run_apart(scenario())  # tests/apart.py: not on the main thread


def test_a_webhook_on_node_b_pops_the_console_on_node_a_and_workers_share_the_queue(two_nodes, tenant):
    node_a, node_b = two_nodes
    operator = agent(make_user(tenant, Role.OPERATOR, "ana"), "2001")
    pop_through(node_a, node_b, tenant, session_cookie(operator))
    pop_through(node_b, node_a, tenant, session_cookie(operator))

    results = [prune_import_reports.enqueue().id for _ in range(30)]
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "--no-reload"]
    workers = [subprocess.Popen(command, cwd=settings.BASE_DIR, env=env) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.wait(timeout=120) == 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                stop(worker)
    done = DBTaskResult.objects.filter(id__in=results)
    assert sorted(done.values_list("status", flat=True)) == ["SUCCESSFUL"] * 30
    assert all(len(ids) == 1 for ids in done.values_list("worker_ids", flat=True))  # each ran once, on one worker
    by_worker = {}
    for (worker_id,) in done.values_list("worker_ids", flat=True):
        by_worker[worker_id] = by_worker.get(worker_id, 0) + 1
    print(f"tarefas por worker: {sorted(by_worker.values())}")  # how the queue was shared, not an assertion


def nginx_binary() -> str | None:
    return (
        os.environ.get("COBRANCA_NGINX")
        or shutil.which("nginx")
        or next((path for path in ("/usr/sbin/nginx",) if Path(path).exists()), None)
    )


def test_the_repository_nginx_config_carries_the_stream_and_the_webhook(two_nodes, tenant):
    nginx = nginx_binary()
    if nginx is None:
        pytest.skip("nginx não está instalado (apt-get install nginx): a config do proxy não foi exercida")
    node_a, node_b = two_nodes
    port = free_port()
    site = CONFIG.read_text()
    site = site.replace("server 127.0.0.1:8001", f"server {node_a.removeprefix('http://')}")
    site = site.replace("server 127.0.0.1:8002", f"server {node_b.removeprefix('http://')}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    with tempfile.TemporaryDirectory(prefix="nginx-") as folder:
        Path(folder, "site.conf").write_text(site)
        temp = " ".join(
            f"{kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        Path(folder, "nginx.conf").write_text(
            f"daemon off; pid {folder}/nginx.pid; error_log {folder}/error.log;\n"
            f"events {{}}\nhttp {{ access_log off; {temp} include {folder}/site.conf; }}\n"
        )
        process = subprocess.Popen([nginx, "-c", f"{folder}/nginx.conf", "-p", folder])
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except httpx.HTTPError:
                    assert process.poll() is None and time.monotonic() < deadline, "o nginx não subiu"
                    time.sleep(0.2)
            operator = agent(make_user(tenant, Role.OPERATOR, "bia"), "2001")
            proxy = f"http://127.0.0.1:{port}"
            pop_through(proxy, proxy, tenant, session_cookie(operator))  # through nginx, whichever nodes it chose
        finally:
            stop(process)
