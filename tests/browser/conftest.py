import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make around it are
# plain synchronous code, which Django would otherwise refuse inside an async context.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# CI runs the browser tests beside the rest of the suite on every core: an admin page that renders in 300 ms here
# took over 5 s (Playwright's default) there once. A longer ceiling costs nothing when the page is quick.
expect.set_options(timeout=15_000)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium não encontrado em {CHROMIUM}: apt-get install -y chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1000}, "locale": "pt-BR"}


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name):
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def login(page, live_server, user, password="senha-de-teste-123", next_url="/"):
    page.goto(f"{live_server.url}/entrar/?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    # The POST navigates whether the password is right or not; waiting for that page to load keeps the next
    # assertion's timeout for the page under test, not for the login's redirect on a loaded CI machine.
    with page.expect_navigation(wait_until="load"):
        page.click("button[type=submit]")
