"""The contract both sides import: what an agent sends and what a collector accepts.

The catalog of event kinds (:mod:`contract.kinds`), event schema v1 and its envelope derived from it
(:mod:`contract.schema`, :mod:`contract.envelope`), the policy keys (:mod:`contract.policy`), the sealed wire
format (:mod:`contract.wire`), signed receipts, policies and key sets (:mod:`contract.receipts`,
:mod:`contract.signed_policy`, :mod:`contract.key_set`), masking (:mod:`contract.masking`), the monitoring
notice and the settings-table mechanism. Nothing here imports the agent's sensors, the collector or the
detectors, and nothing needs a sensor library (psutil, pynput, mss, watchdog): a collector-only install
carries all of it. Errors: :mod:`contract.errors`.
"""
