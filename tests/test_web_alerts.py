"""The alerts page lists alerts in scope and acknowledges them with a CSRF-checked form."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from collector.alerts.model import Alert
from collector.api import create_app
from collector.cli import main as collector_main
from collector.service import Collector
from tests.conftest import DATA_DIRS


def _login(client: TestClient, name: str, password: str) -> str:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    answer = client.post("/login", data={"name": name, "password": password, "csrf": csrf.group(1)})
    assert answer.status_code == 303, answer.text
    home = client.get("/alerts").text
    token = re.search(r'name="csrf" value="([^"]+)"', home)
    return token.group(1) if token else ""


def test_alerts_page_lists_and_acknowledges(tmp_path: Path) -> None:
    data = tmp_path / "c"
    assert collector_main(["init", "--data", str(data)]) == 0
    DATA_DIRS.append(data)
    collector = Collector.open(data)
    try:
        store = collector.alerts.store
        alert = Alert(key="t:1", rule="removable_writes", severity="high", agent_id="pc-1", team="cs-a",
                      day="2026-11-23", seq=7, title="wrote 5 files to removable drives",
                      title_zh="向移动存储写入 5 个文件", value=5, threshold=1, reasons=[])
        store.record(alert, 1.0, 900.0, ())
        pw_sec = collector.accounts.add_user("sec", "security")
        pw_mgr = collector.accounts.add_user("mgr-b", "manager", ["cs-b"])
        client = TestClient(create_app(collector), base_url="http://127.0.0.1", client=("127.0.0.1", 5000),
                            follow_redirects=False)
        csrf = _login(client, "sec", pw_sec)
        page = client.get("/alerts")
        assert page.status_code == 200 and "pc-1" in page.text
        alert_id = int(re.search(r'id="alert-(\d+)"', page.text).group(1))  # type: ignore[union-attr]
        assert client.post(f"/alerts/{alert_id}/ack", data={"note": "checked"}).status_code == 403  # no CSRF
        done = client.post(f"/alerts/{alert_id}/ack", data={"note": "checked", "csrf": csrf})
        assert done.status_code == 303
        assert "pc-1" in client.get("/alerts?state=acked").text
        other = TestClient(create_app(collector), base_url="http://127.0.0.1", client=("127.0.0.1", 5001),
                           follow_redirects=False)
        _login(other, "mgr-b", pw_mgr)
        assert "pc-1" not in other.get("/alerts?state=all").text  # another team's alert stays invisible
    finally:
        collector.close()
