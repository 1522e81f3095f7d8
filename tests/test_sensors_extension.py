"""The browser extension and its loopback bridge (page.open), up to a real Chromium on a virtual display."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sensors import AgentPolicy, SensorSet
from agent.sensors.extension_bridge import (
    MAX_BODY,
    MAX_URL,
    SECRET_FILE,
    ExtensionBridgeSensor,
    install_extension,
    load_secret,
)
from simulator.testing.sensors import ListSink, Record, XSession, display_env, xvfb

EXTENSION = Path(__file__).resolve().parent.parent / "packaging" / "browser-extension"
CHROMIUM = "/usr/bin/chromium"
EXTENSION_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"


# ---- the bridge, spoken to exactly as the service worker speaks to it ------------------------------


@pytest.fixture()
def bridge() -> Iterator[tuple[ExtensionBridgeSensor, ListSink]]:
    sink = ListSink()
    sensor = ExtensionBridgeSensor(sink, AgentPolicy(extension_port=0), secret="s3cret-per-install")
    sensor.start()
    yield sensor, sink
    sensor.stop()


def post(port: int, body: bytes, headers: dict[str, str], method: str = "POST", path: str = "/page",
         host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{port}")
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def extension_headers(secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-SeatGuard-Secret": secret, "User-Agent": EXTENSION_UA,
            "Origin": "chrome-extension://dfikkddemadopbglgfpceloflemlkpio"}


def test_the_bridge_accepts_the_extension_and_nothing_else(bridge: tuple[ExtensionBridgeSensor, ListSink]) -> None:
    sensor, sink = bridge
    good = json.dumps({"url": "https://crm.lender.example/case/1001", "title": "Case 1001"}).encode()
    headers = extension_headers("s3cret-per-install")
    assert post(sensor.port, good, headers) == (204, b"")
    assert post(sensor.port, good, {**headers, "X-SeatGuard-Secret": "guess"})[0] == 403
    assert post(sensor.port, good, {k: v for k, v in headers.items() if k != "X-SeatGuard-Secret"})[0] == 403
    assert post(sensor.port, good, {**headers, "Origin": "https://evil.example"})[0] == 403
    assert post(sensor.port, good, headers, host=f"evil.example:{sensor.port}")[0] == 403  # DNS rebinding
    assert post(sensor.port, b"{not json", headers) == (400, b'{"error": "body must be JSON"}')
    assert post(sensor.port, json.dumps({"url": "javascript:alert(1)", "title": ""}).encode(), headers)[0] == 400
    assert post(sensor.port, json.dumps({"url": 5}).encode(), headers)[0] == 400
    assert post(sensor.port, b"", headers, method="GET")[0] == 405
    assert post(sensor.port, good, headers, path="/other")[0] == 404
    assert post(sensor.port, b"x" * (MAX_BODY + 1), headers)[0] == 413
    assert post(sensor.port, good, {**headers, "User-Agent": EXTENSION_UA + " Edg/156.0.0.0"}) == (204, b"")
    assert [(r.kind, r.fields) for r in sink.records] == [
        ("page.open", {"url": "https://crm.lender.example/case/1001", "title": "Case 1001", "app": "chrome"}),
        ("page.open", {"url": "https://crm.lender.example/case/1001", "title": "Case 1001", "app": "msedge"}),
    ]
    assert sensor.status() == {"available": True, "emitted": 2, "errors": 0, "port": sensor.port,
                               "accepted": 2, "rejected": 9}
    sink.as_v1()


def test_the_bridge_listens_on_loopback_only_and_reports_a_busy_port(
        bridge: tuple[ExtensionBridgeSensor, ListSink]) -> None:
    sensor, _sink = bridge
    assert sensor._server is not None and sensor._server.server_address[0] == "127.0.0.1"
    clash = ExtensionBridgeSensor(ListSink(), AgentPolicy(extension_port=sensor.port))
    clash.start()
    status = clash.status()
    assert status["available"] is False and f"cannot listen on 127.0.0.1:{sensor.port}" in status["why"]


def test_the_secret_is_made_once_per_install_and_kept_private(tmp_path: Path) -> None:
    secret = load_secret(tmp_path)
    assert len(secret) >= 40 and load_secret(tmp_path) == secret
    assert os.stat(tmp_path / SECRET_FILE).st_mode & 0o777 == 0o600
    target = install_extension(EXTENSION, tmp_path / "ext", 47533, secret)
    assert json.loads((target / "seatguard-config.json").read_text()) == {"port": 47533, "secret": secret}
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3 and manifest["host_permissions"] == ["http://127.0.0.1/*"]


# ---- a real Chromium on Xvfb, with and without the extension ---------------------------------------


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        title = "Case " + self.path.rsplit("/", 1)[-1] if self.path.startswith("/case/") else "Inbox"
        body = f"<!doctype html><html><head><title>{title}</title></head><body>{title}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def x() -> Iterator[XSession]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    with xvfb() as session, display_env(session):
        yield session


def launch(playwright: object, x: XSession, profile: Path, extension: Path | None) -> object:
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    if extension is not None:
        args += [f"--disable-extensions-except={extension}", f"--load-extension={extension}"]
    return playwright.chromium.launch_persistent_context(  # type: ignore[attr-defined]
        str(profile), headless=False, executable_path=CHROMIUM, args=args, env=x.env)


def test_without_the_extension_browser_titles_become_pages(x: XSession, site: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    sink = ListSink()
    sensors = SensorSet(sink, AgentPolicy(focus_poll_s=0.1), names=["focus"])
    with sync_playwright() as pw:
        browser = launch(pw, x, tmp_path / "profile", None)
        sensors.start()
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()  # type: ignore[attr-defined]
            page.goto(f"{site}/case/1001")
            sink.wait_kind("page.open", where=lambda r: r.fields["title"] == "Case 1001", timeout=15)
        finally:
            sensors.stop()
            browser.close()  # type: ignore[attr-defined]
    opened = [r.fields for r in sink.records if r.kind == "page.open" and r.fields["title"] == "Case 1001"]
    assert opened == [{"url": "", "title": "Case 1001", "app": "chromium"}]
    assert {"app": "chromium", "title": "Case 1001 - Chromium"} in [
        {k: r.fields[k] for k in ("app", "title")} for r in sink.records if r.kind == "app.focus"]
    sink.as_v1()


def test_a_padded_url_is_reported_cut_not_dropped(bridge: tuple[ExtensionBridgeSensor, ListSink]) -> None:
    """An insider pads a customer page's URL (a fragment a hash router ignores, a query the CRM ignores):
    a URL over 8,192 characters used to be refused, so the customer page never became a page.open."""
    sensor, sink = bridge
    headers = extension_headers("s3cret-per-install")
    padded = "https://crm.lender.example/app#/customers/4711?x=" + "y" * 20_000
    endless = "https://crm.lender.example/customers/4712?x=" + "é" * 100_000  # cut by the extension first
    for url in (padded, endless[:MAX_URL + 10]):
        assert post(sensor.port, json.dumps({"url": url, "title": "Customer"}).encode(), headers) == (204, b"")
    assert [r.fields["url"] for r in sink.records] == [padded, endless[:MAX_URL]]
    assert post(sensor.port, b"x" * (MAX_BODY + 1), headers)[0] == 413
    script = (EXTENSION / "service-worker.js").read_text()
    assert f"const MAX_URL = {MAX_URL};" in script and "tab.url.slice(0, MAX_URL)" in script


def _url_pages(records: list[Record]) -> list[dict[str, object]]:
    return [r.fields for r in records if r.kind == "page.open" and r.fields["url"]]


def test_the_extension_reports_pages_end_to_end(x: XSession, site: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    home = tmp_path / "agent-home"
    policy = AgentPolicy(focus_poll_s=0.1, extension_port=0, case_id_patterns=[r"/case/(\d+)"])
    sink = ListSink()
    sensors = SensorSet(sink, policy, names=["focus", "extension_bridge", "cases"], home=home)
    sensors.start()
    bridge = sensors["extension_bridge"]
    assert isinstance(bridge, ExtensionBridgeSensor)
    extension = install_extension(EXTENSION, home / "browser-extension", bridge.port, load_secret(home))
    try:
        with sync_playwright() as pw:
            browser = launch(pw, x, tmp_path / "profile", extension)
            try:
                workers = browser.service_workers  # type: ignore[attr-defined]
                worker = workers[0] if workers else browser.wait_for_event(  # type: ignore[attr-defined]
                    "serviceworker", timeout=15000)
                assert worker.evaluate("typeof chrome.tabs.onUpdated") == "object"  # its script has run
                page = browser.pages[0] if browser.pages else browser.new_page()  # type: ignore[attr-defined]
                for n, path in enumerate(("/case/1001", "/case/1002", "/inbox"), 1):
                    page.goto(site + path)
                    sink.wait_for(lambda records, n=n: len(_url_pages(records)) >= n, 15, f"{n} extension pages")
                sink.wait_kind("app.focus", where=lambda r: r.fields["title"] == "Inbox - Chromium", timeout=10)
            finally:
                browser.close()  # type: ignore[attr-defined]
    finally:
        sensors.stop()
    assert _url_pages(sink.records) == [
        {"url": f"{site}/case/1001", "title": "Case 1001", "app": "chrome"},
        {"url": f"{site}/case/1002", "title": "Case 1002", "app": "chrome"},
        {"url": f"{site}/inbox", "title": "Inbox", "app": "chrome"},
    ]
    first = next(i for i, r in enumerate(sink.records) if r.kind == "page.open" and r.fields["url"])
    assert not [r for r in sink.records[first:] if r.kind == "page.open" and not r.fields["url"]]
    cases = [(r.kind, r.fields["case_id"]) for r in sink.records if r.kind.startswith("case.")]
    assert cases == [("case.open", "1001"), ("case.close", "1001"), ("case.open", "1002"), ("case.close", "1002")]
    close_1002 = [r for r in sink.records if r.kind == "case.close"][1]
    inbox = next(r for r in sink.records if r.kind == "page.open" and r.fields["url"].endswith("/inbox"))
    assert close_1002.ts == inbox.ts  # closed at stop, as of the moment it left the front
    assert bridge.status()["rejected"] == 0
    sink.as_v1()
    shutil.rmtree(home)
