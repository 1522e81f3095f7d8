"""The scheduler of ``make test``'s worker processes (tests/parallel.py), driven by workers played here."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("xdist")

from tests import parallel  # noqa: E402
from tests.parallel import LAST, SECONDS, FileScheduling  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Worker:
    """What the scheduler sees of a worker: it runs what it is sent in order, and (as a real one) runs
    its last test only once it is sent more or told to shut down."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gateway = SimpleNamespace(id=name)
        self.queue: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        assert not self.shutting_down, f"{self.name} was sent tests after it was told to shut down"
        self.queue.extend(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True

    def can_run(self) -> bool:
        return len(self.queue) > 1 or (self.shutting_down and bool(self.queue))


def _run(collection: list[str], workers: int, seed: int) -> tuple[list[str], dict[str, str]]:
    config = SimpleNamespace(getvalue=lambda name: {"tx": [f"{workers}*popen"], "dist": "loadfile"}[name],
                             option=SimpleNamespace(loadscopereorder=True))
    sched = FileScheduling(config)
    nodes = [Worker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        sched.add_node(node)
        sched.add_node_collection(node, collection)
    sched.schedule()
    rng = random.Random(seed)
    done: list[str] = []
    ran_on: dict[str, str] = {}
    alive = list(nodes)
    while alive:
        for node in [n for n in alive if n.shutting_down and not n.queue]:
            alive.remove(node)
            if node in sched.nodes:  # as xdist: a worker left out at the start is no longer there
                assert sched.remove_node(node) is None
        runnable = [n for n in alive if n.can_run()]
        if not runnable:
            assert not alive, f"the run is stuck: {[(n.name, n.queue, n.shutting_down) for n in alive]}"
            break
        node = rng.choice(runnable)
        index = node.queue.pop(0)
        done.append(collection[index])
        ran_on[collection[index]] = node.name
        sched.mark_test_complete(node, index)
    assert sched.tests_finished and not sched.has_pending
    return done, ran_on


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_every_test_runs_once_by_file_and_the_privacy_scan_after_all_others(workers: int) -> None:
    long_file = next(iter(SECONDS))
    collection = [f"tests/test_a.py::t{i}" for i in range(5)] + [f"tests/test_b.py::t{i}" for i in range(3)] + \
        [f"{long_file}::t{i}" for i in range(2)] + [f"tests/test_c.py::t{i}" for i in range(4)] + \
        [f"{LAST[0]}::t{i}" for i in range(2)]
    for seed in range(30):
        done, ran_on = _run(collection, workers, seed)
        assert sorted(done) == sorted(collection), "each test exactly once"
        assert done[-2:] == collection[-2:], f"seed {seed}: the privacy scan ran before the end: {done}"
        for name in ("tests/test_a.py", "tests/test_b.py", "tests/test_c.py", long_file):
            assert len({w for t, w in ran_on.items() if t.startswith(name)}) == 1, f"{name} split over workers"
        assert done.index(f"{long_file}::t0") < workers * 2 + 2, "the long file went out first"


def test_tests_sharing_a_node_id_each_run() -> None:
    """schemathesis gives each API operation's case its function's node id."""
    collection = ["tests/test_a.py::t0"] + ["tests/test_fuzz.py::case"] * 5 + [f"{LAST[0]}::t0"]
    for workers in (1, 2, 3):
        done, _ = _run(collection, workers, 1)
        assert sorted(done) == sorted(collection) and done[-1] == collection[-1]


def test_a_small_selection_with_the_privacy_scan_still_ends() -> None:
    collection = ["tests/test_a.py::t0", f"{LAST[0]}::t0"]
    for workers in (1, 2, 3, 4):
        done, _ = _run(collection, workers, 0)
        assert done == collection


def test_the_timed_files_exist() -> None:
    assert SECONDS, "the longest files are listed"
    for name in [*SECONDS, *LAST]:
        assert (ROOT / name).is_file(), f"tests/parallel.py names {name}, which is gone"
    assert parallel.pytest_xdist_make_scheduler(SimpleNamespace(getvalue=lambda name: "each"), None) is None
