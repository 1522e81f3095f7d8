"""The collector's garbage-collector tuning: start-up objects frozen, young collections spaced out, and
cyclic garbage still collected (in a child process: the settings are process-wide)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tuning_freezes_start_up_and_still_collects_cycles() -> None:
    code = textwrap.dedent("""
        import gc, weakref
        from collector import gc_tuning
        gc_tuning.tune()
        assert gc.get_threshold() == (gc_tuning.YOUNG, gc_tuning.OLDER, gc_tuning.OLDER), gc.get_threshold()
        assert gc.get_freeze_count() > 1000, gc.get_freeze_count()

        class Node:
            pass

        refs = []
        for _ in range(3 * gc_tuning.YOUNG):  # cycles only the cyclic collector can free
            a, b = Node(), Node()
            a.other, b.other = b, a
            refs.append(weakref.ref(a))
        freed = sum(r() is None for r in refs)
        assert freed > gc_tuning.YOUNG, freed  # collected along the way, without an explicit gc.collect()
        print("ok", freed)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ")
