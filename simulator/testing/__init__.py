"""Helpers for tests and benchmarks: fake sinks and clocks, a virtual X display, alert receivers.

A development tool like the rest of :mod:`simulator`: neither a PC's build nor the collector uses it.
"""
