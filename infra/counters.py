"""Prometheus counters of the work a process does outside requests, served on /metrics.

Per process, since it started (Prometheus' `rate()` and `increase()` are made for that).
"""

from __future__ import annotations

from prometheus_client import Counter

WEBHOOKS_RECEIVED = Counter(
    "loopline_webhook_deliveries_received",
    "Webhook deliveries answered, by source and outcome (stored, duplicate, unverified)",
    ["source", "outcome"],
)
WEBHOOKS_MAPPED = Counter(
    "loopline_webhook_deliveries_mapped",
    "Stored webhook deliveries mapped, by the state they reached (mapped, ignored, retry, failed)",
    ["state"],
)
NOTIFICATIONS_SENT = Counter(
    "loopline_notifications_sent",
    "Outbound notification attempts, by the state they left (delivered, pending, failed)",
    ["state"],
)
APPEND_CONFLICTS = Counter(
    "loopline_append_conflicts",
    "Appends refused because an aggregate was changed concurrently",
)
PROJECTION_BATCHES = Counter(
    "loopline_projection_batches",
    "Batches of events a projection applied and committed",
    ["projection"],
)
PROJECTION_EVENTS = Counter(
    "loopline_projection_events",
    "Events in the batches a projection committed",
    ["projection"],
)
