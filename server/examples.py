"""An example of every request body, by the name of its Struct, shown on the docs page and in
the OpenAPI document (`tests/unit/test_openapi_examples.py` converts each into its Struct, as
the server does, and checks every body has one)."""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, dict[str, Any]] = {
    "FeedbackCreate": {
        "text": "Exporting the invoice list to CSV times out after a minute",
        "channel": "email",
        "touchpoint": "billing",
        "customer_ref": "ann@acme.example",
        "segment": "enterprise",
        "nps": 4,
        "nps_reason": "Exports are too slow for month-end",
        "external_ref": "ZD-4711",
        "received_at": "2025-11-03T10:00:00+01:00",
    },
    "Triage": {"team": "billing", "tags": ["export", "performance"], "impact": "high"},
    "Duplicate": {"of": "FB-12"},
    "Plan": {"decision": "DEC-3"},
    "Decline": {"reason": "Out of scope: we do not offer on-premise installs"},
    "Defer": {"until": "2026-01-15", "reason": "After the year-end freeze"},
    "Reopen": {"reason": "The customer says exports still time out"},
    "CloseLoop": {"how": "email", "note": "Told Ann that streamed exports shipped in 2.4"},
    "FollowUp": {"how": "call", "note": "Called Ann: the export fix is planned for May"},
    "Undo": {"before_version": 3},
    "TeamCreate": {"slug": "billing", "name": "Billing"},
    "MemberCreate": {"handle": "ann", "skills": ["python", "postgresql"]},
    "RepositoryCreate": {"repository": "acme/billing-api"},
    "TokenCreate": {"name": "billing-ci", "role": "member", "teams": ["billing"]},
    "OutcomeCreate": {
        "statement": "Customers resolve billing questions without calling us",
        "measure": "Billing calls per 100 active customers",
        "team": "billing",
        "target": "below 2 by Q3",
    },
    "DecisionCreate": {
        "team": "billing",
        "title": "Stream CSV exports instead of building them in memory",
        "rationale": "Month-end exports time out for our largest customers",
        "options": ["Stream rows", "Export in the background and email a link"],
        "feedback": ["FB-12", "FB-40"],
    },
    "DecisionDecline": {"rationale": "Superseded by the reporting rework"},
    "DecisionRank": {"position": 1},
    "DecisionSupersede": {"by": "DEC-9"},
    "IncrementCreate": {
        "service": "billing-api",
        "environment": "production",
        "status": "success",
        "release_version": "2.4.0",
        "commit_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
        "started_at": "2025-11-20T14:00:00Z",
        "finished_at": "2025-11-20T14:06:00Z",
        "commits": [
            {
                "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                "authored_at": "2025-11-19T16:30:00Z",
                "message": "Stream CSV exports (Ships DEC-3, fixes FB-12)",
            }
        ],
        "team": "billing",
        "external_ref": "deploy-1882",
    },
    "IncidentCreate": {
        "service": "billing-api",
        "title": "Invoices fail to render",
        "opened_at": "2025-11-20T15:10:00Z",
        "caused_by_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
        "external_ref": "PD-301",
    },
    "IncidentResolve": {
        "resolved_at": "2025-11-20T16:02:00Z",
        "resolution": "Rolled back to 2.3.9",
    },
    "IntegrationCreate": {
        "source": "github",
        "secret": "a-long-random-secret-from-your-password-manager",
        "repositories": ["acme/billing-api"],
        "name": "GitHub: billing",
        "production_environments": ["production"],
        "deployment_workflows": ["deploy"],
        "releases_are_deployments": False,
        "incident_label": "incident",
    },
    "Replay": {"ids": [41, 42], "states": ["failed"]},
    "TargetCreate": {
        "url": "https://support.acme.example/hooks/loopline",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "events": ["feedback.shipped", "feedback.loop_closed"],
    },
}
