"""The web UI in a real browser (Debian's chromium through Playwright) against a real ``serve``.

Each role signs in through the form; security opens the report and drills into a timeline, a
manager is refused another team's agent, the live wall changes when a sealed batch arrives, the
auditor searches and exports the audit log, the agent reads their own activity, the admin makes an
enrollment token. A PNG of each page is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from collector.accounts import MAX_FAILURES
from collector.alerts.model import Alert
from collector.storage import tables as t
from tests.conftest import ROOT, CollectorProcess
from tests.web_fixtures import PASSWORD, World, live_events

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
                allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"
expect.set_options(timeout=10_000)
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class Site:
    def __init__(self, tmp: Path) -> None:
        self.server = CollectorProcess(tmp / "collector")
        self.server.start()
        self.http = httpx.Client(base_url=self.server.url, timeout=30)
        try:
            self.world = World(self.server.data, post=self._post, init=False)
            self.world.collector.accounts.add_user("victim", "security", password=PASSWORD)
            self.world.populate()
        except BaseException:  # no teardown runs for a fixture that failed: stop the server here
            self.http.close()
            self.server.kill()
            raise
        self.day = self.world.yesterday.isoformat()

    def _post(self, path: str, body: bytes) -> httpx.Response:
        return self.http.post(path, content=body, headers={"content-type": "application/json"})

    def close(self) -> None:
        self.http.close()
        self.world.close()
        self.server.kill()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = Site(tmp_path_factory.mktemp("web-browser"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def open_page(browser: Browser, site: Site, locale: str = "en-US") -> Page:
    context = browser.new_context(base_url=site.server.url, locale=locale, viewport={"width": 1400, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    return context.new_page()


def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def shot(page: Page, name: str, full: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=full)


def test_sign_in_form_backs_off_with_one_message_then_lets_the_owner_in(browser: Browser, site: Site) -> None:
    page = open_page(browser, site)
    page.goto("/login")
    shot(page, "login")
    for _ in range(MAX_FAILURES):
        sign_in(page, "victim", "wrong password")
        expect(page.locator("#login-error")).to_contain_text("Wrong user name or password")
    wrong = page.locator("#login-error").inner_text()
    sign_in(page, "victim")  # the right password, while sign-in backs off: the very same message
    expect(page.locator("#login-error")).to_have_text(wrong)
    sign_in(page, "nobody-at-all", "whatever")  # and for a name that does not exist
    expect(page.locator("#login-error")).to_have_text(wrong)
    shot(page, "login-backoff")
    with site.world.collector.store._write() as conn:  # the backoff runs out ...
        conn.execute(update(t.users).where(t.users.c.name == "victim").values(locked_until=time.time() - 1))
    sign_in(page, "victim")  # ... and the owner's right password works again
    expect(page).to_have_url(re.compile(r"/report"))
    page.context.close()


def test_security_reviews_the_report_and_drills_into_a_timeline(browser: Browser, site: Site) -> None:
    page = open_page(browser, site)
    sign_in(page, "sec")
    expect(page).to_have_url(re.compile(r"/report$"))
    rows = page.locator("tr.finding")
    expect(rows.first).to_have_id("finding-pc-a1")
    expect(rows).to_have_count(2)
    shot(page, "report", full=True)
    page.select_option("select[name=severity]", "high")
    page.click("#report-filters button[type=submit]")
    expect(page.locator("tr.finding")).to_have_count(1)
    expect(page.locator("tr.finding").first).to_have_id("finding-pc-b1")
    page.goto(f"/report?date={site.day}")
    finding = page.locator("#finding-pc-a1")
    finding.locator("select[name=label]").select_option("confirmed")
    finding.locator("input[name=note]").fill("exported customer list")
    finding.locator("button[type=submit]").click()
    expect(finding.locator(".status")).to_have_text("saved")
    finding.locator("ul.evidence a").first.click()
    expect(page).to_have_url(re.compile(rf"/agents/pc-a1/timeline\?date={site.day}#seq-\d+$"))
    expect(page.locator("tr.target")).to_have_count(1)
    expect(page.locator("tr.target")).to_have_class(re.compile("flagged"))
    page.evaluate("window.scrollTo(0, 0)")
    page.click("[data-zoom=in]")
    page.click("[data-zoom=in]")
    expect(page.locator("#tl-zoom-level")).to_have_text("4×")
    page.click("[data-zoom=reset]")
    expect(page.locator("#tl-zoom-level")).to_have_text("1×")
    expect(page.locator('[data-lane="app:wechat.exe"] .bar')).not_to_have_count(0)
    expect(page.locator('[data-lane="flags"] .mk')).not_to_have_count(0)
    shot(page, "timeline")
    page.locator("tr.target").scroll_into_view_if_needed()
    shot(page, "timeline-events")
    text = page.content()
    assert "11010519491231002X" not in text and "002X" in text
    labels = site.world.collector.access.search(actor="sec", action="label_finding")
    assert labels and labels[0]["target"] == f"pc-a1 {site.day} confirmed"
    page.context.close()


def test_manager_is_refused_another_teams_agent(browser: Browser, site: Site) -> None:
    page = open_page(browser, site)
    sign_in(page, "mgr-a")
    expect(page.locator("tr.finding")).to_have_count(1)
    expect(page.locator("tr.finding").first).to_have_id("finding-pc-a1")
    response = page.goto(f"/agents/pc-b1/timeline?date={site.day}")
    assert response is not None and response.status == 403
    expect(page.locator(".error-text")).to_contain_text("outside what your role may see")
    shot(page, "refused")
    refused = site.world.collector.access.search(actor="mgr-a", target="pc-b1", allowed=False)
    assert refused and refused[0]["action"] == "read_timeline" and refused[0]["remote"] == "127.0.0.1"
    page.context.close()


def test_live_wall_changes_when_a_batch_arrives(browser: Browser, site: Site) -> None:
    page = open_page(browser, site, locale="zh-CN")
    sign_in(page, "mgr-a")
    today = datetime.now(site.world.collector.settings.tz).date().isoformat()
    store = site.world.collector.alerts.store
    raised = [store.record(Alert(key=f"wall:{agent}", rule="removable_writes", severity="high", agent_id=agent,
                                 team=team, day=today, seq=1, title="wrote files to a removable drive",
                                 title_zh="向移动存储写入文件", value=3, threshold=1, reasons=[]),
                           time.time(), 0.0, ()).alert.id for agent, team in (("pc-a1", "cs-a"), ("pc-b1", "cs-b"))]
    page.goto("/wall")
    tile = page.locator("#agent-pc-a2")
    expect(page.locator("#wall-alerts")).to_be_visible()
    expect(page.locator(f"#wall-alert-{raised[0]}")).to_contain_text("pc-a1 · 向移动存储写入文件")  # raised before
    expect(page.locator(f"#wall-alert-{raised[1]}")).to_have_count(0)  # another team's alert
    expect(page.locator("#wall-live")).not_to_have_class(re.compile("off"))
    expect(tile).to_have_class(re.compile("state-offline"))
    expect(page.locator("#agent-pc-b1")).to_have_count(0)  # another team's agent is not on this wall
    site.world.agents["pc-a2"].send(site._post, live_events("excel.exe", case="C-2026-1234567"))
    expect(tile).to_have_class(re.compile("state-active"), timeout=15_000)  # pushed, or polled within 2 s
    expect(tile.locator('[data-field="app"]')).to_have_text("excel.exe")
    expect(tile.locator('[data-field="cases_today"]')).to_have_text("1")
    expect(tile.locator('[data-field="state"]')).to_have_text("在岗")
    shot(page, "wall")
    page.context.close()


def test_auditor_searches_and_exports_the_audit_log(browser: Browser, site: Site) -> None:
    page = open_page(browser, site)
    sign_in(page, "aud")
    expect(page).to_have_url(re.compile(r"/audit$"))
    page.fill("#audit-filters input[name=actor]", "mgr")
    page.select_option("#audit-filters select[name=allowed]", "no")
    page.click("#audit-filters button[type=submit]")
    expect(page.locator("#audit-rows tbody tr").first).to_contain_text("read_timeline")
    shot(page, "audit", full=True)
    with page.expect_download() as info:
        page.click("#audit-export")
    body = Path(info.value.path()).read_text(encoding="utf-8")
    assert body.startswith("id,at,actor,action,target,agent_id,allowed,remote") and ",no," in body
    response = page.goto(f"/agents/pc-a1/timeline?date={site.day}")
    assert response is not None and response.status == 403  # the auditor reads the log, not timelines
    page.context.close()


def test_agent_sees_own_activity_who_looked_and_the_notice(browser: Browser, site: Site) -> None:
    token = site.world.collector.accounts.create_token("sec")
    looked = site.http.get(f"/api/v1/agents/pc-a1/timeline?date={site.day}",
                           headers={"Authorization": f"Bearer {token}"})
    assert looked.status_code == 200
    page = open_page(browser, site, locale="zh-CN")
    sign_in(page, "pc-a1-person")
    expect(page).to_have_url(re.compile(r"/me$"))
    page.goto(f"/me?date={site.day}")
    expect(page.locator("#notice")).to_contain_text("从不记录您按了哪些键")
    expect(page.locator("#viewers")).to_contain_text("sec")
    expect(page.locator('[data-lane="app:chrome.exe"]')).to_have_count(1)
    shot(page, "me")
    response = page.goto("/report")
    assert response is not None and response.status == 403
    page.context.close()


def test_admin_makes_an_enrollment_token(browser: Browser, site: Site) -> None:
    page = open_page(browser, site)
    sign_in(page, "root")
    page.goto("/admin")
    page.fill("#tokens input[name=team]", "cs-c")
    page.click("#tokens button[type=submit]")
    expect(page.locator("#new-token code")).to_have_text(re.compile(r"^sgt_"))
    expect(page.locator("#retention")).to_contain_text("180 days")
    shot(page, "admin", full=True)
    page.context.close()
