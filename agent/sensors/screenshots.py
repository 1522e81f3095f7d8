"""Screenshots (screenshot) with mss, only when a policy trigger fires; rate-limited and downscaled.

The PNG goes to the sink's ``emit_blob(blob_id, data)`` (the runner seals and uploads it like a
batch); the event carries only the blob ID, the trigger and the size. Without a blob-capable sink,
or with no trigger in the policy, nothing is ever captured.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent.sensors.base import BlobSink, Clock, EventSink, Sensor
from agent.sensors.errors import SensorUnavailable
from agent.sensors.policy import AgentPolicy

logger = logging.getLogger(__name__)

SENSITIVE_COPY_MEMORY_S = 120.0
Grabber = Callable[[], tuple[bytes, int, int]]  # BGRA pixels, width, height


def grab_screen() -> tuple[bytes, int, int]:
    """All monitors as one BGRA image, through mss."""
    import mss

    try:
        with mss.MSS() as shooter:
            shot = shooter.grab(shooter.monitors[0])
            return bytes(shot.raw), shot.width, shot.height
    except mss.ScreenShotError as exc:
        raise SensorUnavailable(f"screen capture failed: {exc}") from exc


def downscale(bgra: bytes, width: int, height: int, max_width: int) -> tuple[bytes, int, int]:
    """RGB pixels sampled every ``step`` pixels so that the width is at most ``max_width``."""
    step = max(1, -(-width // max(max_width, 1)))
    out_w, out_h = len(range(0, width, step)), len(range(0, height, step))
    stride, out_stride = width * 4, out_w * 3
    out = bytearray(out_w * out_h * 3)
    for row, y in enumerate(range(0, height, step)):
        line = bgra[y * stride:(y + 1) * stride]
        at = row * out_stride
        out[at:at + out_stride:3] = line[2::4 * step]
        out[at + 1:at + out_stride:3] = line[1::4 * step]
        out[at + 2:at + out_stride:3] = line[0::4 * step]
    return bytes(out), out_w, out_h


def to_png(rgb: bytes, width: int, height: int) -> bytes:
    import mss.tools

    data = mss.tools.to_png(rgb, (width, height), level=6)
    return data or b""


class ScreenshotSensor(Sensor):
    name = "screenshots"
    observes = frozenset({"process.start", "clipboard.copy", "app.focus", "page.open", "file.write"})

    def __init__(self, sink: EventSink, policy: AgentPolicy, clock: Clock | None = None, *,
                 home: Path | None = None, grabber: Grabber = grab_screen) -> None:
        super().__init__(sink, policy, clock, home=home)
        self._grab = grabber
        self._queue: queue.SimpleQueue[tuple[str, datetime] | None] = queue.SimpleQueue()
        self._taken: deque[datetime] = deque()
        self._last_sensitive: datetime | None = None
        self._thread: threading.Thread | None = None
        self.suppressed = 0

    def start(self) -> None:
        if not isinstance(self.sink, BlobSink):
            self.unavailable("the event sink cannot keep screenshots (no emit_blob)")
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sensor-screenshots", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(15.0)

    def status(self) -> dict[str, Any]:
        out = super().status()
        out["triggers"] = list(self.policy.screenshot_triggers)
        out["suppressed"] = self.suppressed
        return out

    # ---- triggers -----------------------------------------------------------------------------

    def observe(self, kind: str, fields: dict[str, Any], ts: datetime) -> None:
        if self._thread is None:
            return
        wanted = self.policy.screenshot_triggers
        reason = next((r for r in self._reasons(kind, fields, ts) if r in wanted), None)
        if reason is not None:
            self._queue.put((reason, ts))

    def _reasons(self, kind: str, fields: dict[str, Any], ts: datetime) -> list[str]:
        policy = self.policy
        if kind == "process.start" and fields.get("category") in ("remote_access", "screen_capture"):
            return [f"{fields['category']}_process"]
        if kind == "clipboard.copy":
            if any(fields.get("classes", {}).values()) or fields.get("action") == "cleared":
                self._last_sensitive = ts
                return ["sensitive_copy"]
            return []
        if kind == "app.focus":
            app = str(fields.get("app", ""))
            out = []
            recent = self._last_sensitive is not None and (
                ts - self._last_sensitive <= timedelta(seconds=SENSITIVE_COPY_MEMORY_S))
            if recent and policy.is_messaging_app(app):
                out.append("messaging_after_sensitive_copy")
            if not policy.is_allowed_app(app):
                out.append("disallowed_app")
            return out
        if kind == "page.open" and fields.get("url") and not policy.is_allowed_site(str(fields["url"])):
            return ["disallowed_site"]
        if kind == "file.write" and fields.get("removable"):
            return ["removable_write"]
        return []

    # ---- capture ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            reason, _ts = item
            if not self._admit(self.clock.now()):
                self.suppressed += 1
                continue
            try:
                self._capture(reason)
            except SensorUnavailable as exc:
                self.unavailable(exc.why)
            except Exception:  # one failed capture must not end the sensor; logged and counted
                self.errors += 1
                logger.exception("screenshot failed")

    def _admit(self, now: datetime) -> bool:
        hour_ago = now - timedelta(hours=1)
        while self._taken and self._taken[0] <= hour_ago:
            self._taken.popleft()
        if self._taken and now - self._taken[-1] < timedelta(seconds=self.policy.screenshot_min_interval_s):
            return False
        if len(self._taken) >= self.policy.screenshot_max_per_hour:
            return False
        self._taken.append(now)
        return True

    def _capture(self, reason: str) -> None:
        bgra, width, height = self._grab()
        rgb, w, h = downscale(bgra, width, height, self.policy.screenshot_max_width)
        blob_id = uuid.uuid4().hex
        sink = self.sink
        if isinstance(sink, BlobSink):
            sink.emit_blob(blob_id, to_png(rgb, w, h))
        self.emit("screenshot", {"blob_id": blob_id, "reason": reason, "w": w, "h": h})
