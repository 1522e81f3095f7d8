"""The JSON API's route groups, each a ``register(app, collector)`` that :func:`collector.api.create_app`
mounts by name: :mod:`.ingest` (what agents call), :mod:`.query` (what people and scripts read),
:mod:`.health` (``/healthz``, ``/metrics``); what they share is in :mod:`.common`. The alerts' routes
(:mod:`collector.alerts.routes`), the shifts' (:mod:`collector.shift_routes`) and the web UI
(:mod:`collector.web`) are mounted the same way. Handlers stay thin: the logic is in the services.
"""
