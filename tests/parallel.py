"""The suite on several worker processes (pytest-xdist; a plugin: ``tests/conftest.py``).

``make test`` runs ``pytest -n 3``: most of the suite waits on real processes (collectors, agents, Xvfb,
chromium, pip), so three workers keep two cores busy. Whatever ``--dist`` says, the work goes out by
file (:class:`FileScheduling`):

- a file's tests run on one worker, in their order (tests that share a node id too, each of them), so a
  module fixture (a collector, an X display, a browser, a built agent) starts once per file as in a serial run;
- the files known to be long go first, longest first (:data:`SECONDS`), so that the run does not end
  waiting for one long file that started last; the others follow in collection order;
- ``tests/test_zz_privacy.py`` runs last, on the one worker left once every other has finished: its scan
  must see what every worker's collectors wrote. Each worker lists its collector folders in a file of
  the run's shared temporary folder when it finishes (:func:`pytest_sessionfinish`), and
  :func:`collector_data_dirs` reads them all.

Without ``-n`` nothing here changes the run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:  # pytest-xdist comes with the dev extra; without it the suite runs in one process
    LoadFileScheduling = object

LAST = ("tests/test_zz_privacy.py",)
# Seconds the longest files' tests took (setup, call and teardown added up: `--junitxml` of `pytest -n 3`
# on the 2-core machine, 2026-12-08, under load from other work; only their order matters). A file not
# listed counts as short and goes after these, in collection order.
SECONDS: dict[str, float] = {
    "tests/test_key_rotation.py": 389,
    "tests/test_spine_e2e.py": 316,
    "tests/test_detectors_evaluate.py": 253,
    "tests/test_packaging_frozen.py": 206,
    "tests/test_collector_only_install.py": 203,
    "tests/test_insider_playbook.py": 192,
    "tests/test_ingest_amplification.py": 170,
    "tests/test_spool.py": 162,
    "tests/test_packaging_tls.py": 131,
    "tests/test_cluster_two_collectors.py": 130,
    "tests/test_packaging_linux.py": 130,
    "tests/test_packaging_backup.py": 116,
    "tests/test_insider_volume_stop_e2e.py": 108,
    "tests/test_storage_two_collectors.py": 99,
    "tests/test_demo.py": 96,
    "tests/test_blob_quota.py": 91,
    "tests/test_evaluate_heldout.py": 84,
    "tests/test_signed_answers.py": 84,
    "tests/test_policy_mismatch.py": 83,
    "tests/test_detectors_self_baseline.py": 81,
    "tests/test_transport_security.py": 78,
    "tests/test_signin_http.py": 77,
    "tests/test_shift_alerts.py": 76,
    "tests/test_masking_properties.py": 69,
}
_DIRS_KEY = "seatguard_data_dir_lists"  # workerinput: the folder where each worker lists its folders
_shared: dict[str, Path] = {}


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        _shared["lists"] = Path(workerinput[_DIRS_KEY])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    lists = node.config._tmp_path_factory.getbasetemp() / "collector-data-dirs"
    lists.mkdir(exist_ok=True)
    node.workerinput[_DIRS_KEY] = str(lists)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker lists the collector folders its tests made, for the privacy scan on the last worker."""
    lists = _shared.get("lists")
    if lists is not None:
        from tests.conftest import DATA_DIRS

        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
        (lists / f"{worker}.txt").write_text("".join(f"{d}\n" for d in DATA_DIRS), encoding="utf-8")


def collector_data_dirs(own: Sequence[Path]) -> list[Path]:
    """Every collector folder of the run: this process's (``own``) and those the other workers listed."""
    found = list(own)
    lists = _shared.get("lists")
    if lists is None:
        return found
    listings = {p.stem: p for p in lists.glob("*.txt")}
    me = os.environ.get("PYTEST_XDIST_WORKER", "")
    others = {f"gw{i}" for i in range(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))} - {me}
    missing = sorted(others - set(listings))
    assert not missing, f"workers {missing} have not listed their collector folders: they may still be running"
    for name in sorted(listings):
        found.extend(Path(line) for line in listings[name].read_text(encoding="utf-8").splitlines() if line)
    return found


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") == "each":
        return None
    return FileScheduling(config, log)


class FileScheduling(LoadFileScheduling):  # type: ignore[misc,valid-type]
    """``--dist loadfile``, the longest files first, :data:`LAST` after every other file has finished.

    :data:`LAST` stays at the end of the work queue until the one worker kept for it (the first to ask
    for work when nothing else is left) is the only one still running; the others are shut down as
    they run out of work. (A worker sits on its last test until it is sent more or shut down, so the
    held file may only go out once the others have ended.)
    """

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.finisher: Any = None
        self._ordered = False

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        """Tests that share a node id (schemathesis names each API operation's case after its function)
        are told apart by a suffix: the work units are keyed by node id, and would run the first alone."""
        seen: dict[str, int] = {}
        unique = []
        for nodeid in collection:
            seen[nodeid] = seen.get(nodeid, 0) + 1
            unique.append(nodeid if seen[nodeid] == 1 else f"{nodeid}\x00{seen[nodeid]}")
        super().add_node_collection(node, unique)

    def _order(self) -> None:
        """Longest known files first, then the rest in collection order, :data:`LAST` at the end."""
        self._ordered = True
        units = list(self.workqueue.items())
        first = {scope: i for i, scope in enumerate(dict.fromkeys(n.split("::", 1)[0] for n in self.collection))}
        units.sort(key=lambda unit: (unit[0] in LAST, -SECONDS.get(unit[0], 0.0), first.get(unit[0], 0)))
        self.workqueue.clear()
        self.workqueue.update(units)

    def _assign_work_unit(self, node: Any) -> None:
        if not self._ordered:
            self._order()
        scope = next((s for s in self.workqueue if s not in LAST), None)
        if scope is not None:
            self.workqueue.move_to_end(scope, last=False)  # a crashed worker's file is put back at the end
            super()._assign_work_unit(node)
            return
        if self.finisher is None:
            self.finisher = node
        if node is not self.finisher:
            node.shutdown()
        self._release()

    def _release(self) -> None:
        """Hand :data:`LAST` to the finisher once it is the only worker left, then let it end."""
        if self.finisher is None or list(self.assigned_work) != [self.finisher]:
            return
        if any(scope not in LAST for scope in self.workqueue):
            return
        while self.workqueue:
            super()._assign_work_unit(self.finisher)
        self.finisher.shutdown()

    def remove_node(self, node: Any) -> str | None:
        crashed = super().remove_node(node)
        if node is self.finisher:
            self.finisher = None
            for other in self.assigned_work:  # a worker still running takes its place
                if not other.shutting_down:
                    self.finisher = other
                    break
        self._release()
        return crashed
