"""PullRequest: a merged change (a GitHub pull request, a GitLab merge request) with the
times that split its lead time: first commit authored, opened, merged, and its merge commit."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate, event

from domain.common import MAX_NAME, MAX_TITLE, check_optional_text, check_text, check_when
from domain.errors import NotFound, ValidationError
from domain.increment import check_sha


class PullRequestNotFound(NotFound):
    """Raised when no pull request has the given id."""


class PullRequest(Aggregate):
    """A merged pull request of one service/repository; `ref` names it at its source
    (`github:pull_request:12`, `gitlab:merge_request:7`)."""

    @classmethod
    def merged(
        cls,
        *,
        service: str,
        ref: str,
        title: str | None,
        first_commit_at: datetime | None,
        opened_at: datetime,
        merged_at: datetime,
        merge_sha: str,
    ) -> PullRequest:
        """A newly merged pull request, its input checked."""
        check_text("service", service, max_length=MAX_NAME * 2)
        check_text("ref", ref, max_length=MAX_NAME * 2)
        check_optional_text("title", title, max_length=MAX_TITLE)
        if first_commit_at is not None:
            check_when("first_commit_at", first_commit_at)
        check_when("opened_at", opened_at)
        check_when("merged_at", merged_at)
        if merged_at < opened_at:
            raise ValidationError("merged_at", "must not be before opened_at")
        check_sha("merge_sha", merge_sha)
        return cls(
            service=service,
            ref=ref,
            title=title,
            first_commit_at=first_commit_at,
            opened_at=opened_at,
            merged_at=merged_at,
            merge_sha=merge_sha,
        )

    @event("Merged")
    def __init__(
        self,
        service: str,
        ref: str,
        title: str | None,
        first_commit_at: datetime | None,
        opened_at: datetime,
        merged_at: datetime,
        merge_sha: str,
    ) -> None:
        self.service = service
        self.ref = ref
        self.title = title
        self.first_commit_at = first_commit_at
        self.opened_at = opened_at
        self.merged_at = merged_at
        self.merge_sha = merge_sha
