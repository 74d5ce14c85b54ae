"""Every projection Loopline runs, in one place."""

from __future__ import annotations

from projections.backlog import Backlog
from projections.base import Projection
from projections.changes import PullRequests
from projections.delivery import Delivery
from projections.directory import Directory
from projections.feedback import FeedbackItems
from projections.nps import NpsResponses
from projections.similar import SimilarWords


def all_projections() -> list[Projection]:
    return [
        Directory(),
        FeedbackItems(),
        Backlog(),
        Delivery(),
        NpsResponses(),
        PullRequests(),
        SimilarWords(),
    ]
