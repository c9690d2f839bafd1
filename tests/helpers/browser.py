"""What every browser test shares: the system Chromium, `hallu serve` on a free port, waiting."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
# the flags that keep Chromium off the (closed) network and out of a sandbox root cannot use
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect, sync_playwright
except ImportError:  # pragma: no cover
    expect = sync_playwright = None
    PlaywrightTimeout = TimeoutError

MARKS = [pytest.mark.browser, pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="browser tests need Debian's chromium (/usr/bin/chromium) and the playwright package: run ./setup.sh")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(workspace: Path | None, log: Path, env_extra: dict | None = None):
    """Start `hallu serve` (which becomes the Streamlit server); returns (process, url) once healthy."""
    port = free_port()
    # no file watcher: an edit to the sources during a run (other work in the same tree) would make
    # Streamlit reload hallu_core modules mid-session, and cached objects stop unpickling
    env = {**os.environ, **(env_extra or {}), "HF_HUB_OFFLINE": "1", "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    env.pop("HALLU_WORKSPACE", None)
    cmd = [sys.executable, "-m", "hallu_core.cli.main", "serve", "--port", str(port)]
    if workspace is not None:
        cmd += ["--workspace", str(workspace)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hallu serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            ARTIFACTS.mkdir(exist_ok=True)
            return proc, url
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError("hallu serve did not answer within 120 s")


def stop(proc) -> None:
    """Stop the server and anything it started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (import this fixture into the module)."""
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def wait_idle(page, timeout: float = 30, quiet: float = 0.6) -> None:
    """Wait until Streamlit has finished running the script: no running indicator for `quiet` seconds
    (a rerun that a click or a closed dropdown asks for can take a moment to show it on a loaded machine)."""
    page.wait_for_timeout(300)
    deadline, quiet_since = time.time() + timeout, None
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count():
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since >= quiet:
            return
        page.wait_for_timeout(150)


def _retried(page, attempt, errors, tries: int):
    """attempt() again, after the page is idle, while it raises `errors` (the last try's error propagates)."""
    for n in range(tries):
        wait_idle(page)
        try:
            return attempt()
        except errors:
            if n == tries - 1:
                raise


def click_until(page, button, done, timeout: float = 20, tries: int = 3) -> None:
    """Click `button` until the `done` locator shows, for a click whose effect is the same when repeated.

    Streamlit can drop a click that lands while the script reruns (the widget is being replaced), which a
    user answers by clicking again; a test that clicks once then fails on a loaded machine."""
    def attempt():
        button.click()
        expect(done).to_be_visible(timeout=timeout * 1000)
    _retried(page, attempt, AssertionError, tries)


def download(page, button, timeout: float = 30, tries: int = 3):
    """Click a download button until the browser downloads; returns the Download (see click_until)."""
    def attempt():
        with page.expect_download(timeout=timeout * 1000) as info:
            button.click()
        return info.value
    return _retried(page, attempt, PlaywrightTimeout, tries)


def choose(page, key: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox / multiselect by its widget (or container) key; wait for the rerun."""
    for _ in range(10):  # the widget may still be re-rendering from the previous run
        page.locator(f".st-key-{key} button[aria-label=Open]").first.click()
        if page.get_by_role("option").first.is_visible():
            break
        page.wait_for_timeout(500)
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


@pytest.fixture(scope="module")
def server(workspace, tmp_path_factory):
    """`hallu serve` on the importing test module's own `workspace` fixture, shared by its tests."""
    proc, url = serve(workspace, tmp_path_factory.mktemp("logs") / "serve.log")
    yield url
    stop(proc)
