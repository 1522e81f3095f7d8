"""Prometheus metrics of one collector process (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from contract.pattern_search import unjudged_count
from contract.policy import disabled_pattern_count


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.batches = Counter("seatguard_batches_total", "Batches answered, by outcome", ["outcome"],
                               registry=self.registry)
        self.events = Counter("seatguard_events_total", "Events stored", registry=self.registry)
        self.quarantined = Counter("seatguard_events_quarantined_total", "Events kept in quarantine",
                                   registry=self.registry)
        self.quarantine_dropped = Counter("seatguard_quarantine_dropped_total",
                                          "Quarantined events over the per-batch cap: counted, not stored",
                                          registry=self.registry)
        self.rejections = Counter("seatguard_rejections_total", "Refused ingest requests, by reason", ["reason"],
                                  registry=self.registry)
        self.integrity = Counter("seatguard_integrity_findings_total", "Sequence gaps and chain breaks, by kind",
                                 ["kind"], registry=self.registry)
        self.rate_limited = Counter("seatguard_rate_limited_total",
                                    "Attempts refused by a per-client rate limit (429), by route", ["route"],
                                    registry=self.registry)
        self.signins = Counter("seatguard_signins_total", "Web sign-in attempts, by outcome", ["outcome"],
                               registry=self.registry)
        self.receipts = Counter("seatguard_receipts_total", "Signed receipts in answers to agents, by kind and outcome",
                                ["kind", "outcome"], registry=self.registry)
        self.blobs = Counter("seatguard_blobs_total",
                             "Screenshot blobs answered, by outcome (stored, duplicate, blob_quota, blob_rate)",
                             ["outcome"], registry=self.registry)
        self.key_sets = Counter("seatguard_key_sets_total",
                                "Signed key sets (key rotation announcements) in answers to agents",
                                registry=self.registry)
        self.hpke_opens = Counter("seatguard_hpke_opens_total",
                                  "Batches and blobs opened, by generation of the collector HPKE key that opened them",
                                  ["generation"], registry=self.registry)
        self.shifts = Counter("seatguard_shift_entries_total",
                              "Per-day shift entries, by outcome (set, cleared, refused)", ["outcome"],
                              registry=self.registry)
        self.unsafe_patterns = Gauge("seatguard_policy_patterns_left_out",
                                     "Distinct stored policy regular expressions this process left out as unsafe",
                                     registry=self.registry)
        self.unsafe_patterns.set_function(disabled_pattern_count)
        self.unjudged_texts = Gauge("seatguard_policy_texts_unjudged",
                                    "Pattern searches this process cut short at the matching time budget (their "
                                    "URLs count as customer pages of an unknown customer)", registry=self.registry)
        self.unjudged_texts.set_function(unjudged_count)
        self.legal_holds = Counter("seatguard_legal_hold_actions_total",
                                   "Legal hold requests, by outcome (set, lifted, refused)", ["outcome"],
                                   registry=self.registry)
        self.latency = Histogram("seatguard_ingest_seconds", "Time to verify, open, validate, mask and commit a batch",
                                 registry=self.registry,
                                 buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

    def render(self) -> bytes:
        return generate_latest(self.registry)
