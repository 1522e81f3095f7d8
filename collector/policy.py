"""The policy agents follow; it lives on the collector and reaches agents with every batch answer."""

from __future__ import annotations

from typing import Any

import orjson

from collector.storage import Store

DEFAULT_POLICY: dict[str, Any] = {
    "version": 1,
    "case_id_patterns": [r"\bC-\d{4}-\d{7}\b"],
    "customer_url_patterns": [r"/customers/(\d+)"],
    "allowed_apps": ["chrome.exe", "msedge.exe", "softphone.exe", "microsip.exe", "zoiper5.exe", "agentbar.exe",
                     "excel.exe", "outlook.exe", "wxwork.exe", "notepad.exe", "explorer.exe", "wemeetapp.exe",
                     "dingtalk.exe"],
    "allowed_sites": ["crm.lender.example", "kb.lender.example"],
    "sensitive_apps": ["chrome.exe", "msedge.exe"],
    "messaging_apps": ["wechat.exe", "weixin.exe", "qq.exe", "dingtalk.exe", "telegram.exe", "wxwork.exe"],
    "process_categories": {
        "remote_access": ["anydesk", "teamviewer", "sunlogin", "todesk", "rustdesk", "vnc"],
        "screen_capture": ["obs", "bandicam", "camtasia", "sharex", "screenrec"],
        "messaging": ["wechat", "weixin", "qq", "telegram", "dingtalk", "whatsapp"],
    },
    "idle_threshold_s": 300,
    "case_absence_s": 600,
    "screenshot_triggers": ["remote_access", "bulk_id_copy"],
    "clear_sensitive_copies": False,
    "watched_folders": ["~/Downloads", "~/Desktop", "~/Documents"],
}


class PolicyService:
    KEY = "policy"

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Any] | None = None

    def current(self) -> dict[str, Any]:
        if self._cache is None:
            raw = self.store.get_kv(self.KEY)
            self._cache = orjson.loads(raw) if raw else dict(DEFAULT_POLICY)
        return self._cache

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        policy = {**self.current(), **changes}
        policy["version"] = int(self.current().get("version", 1)) + 1
        self.store.set_kv(self.KEY, orjson.dumps(policy).decode())
        self._cache = policy
        return policy
