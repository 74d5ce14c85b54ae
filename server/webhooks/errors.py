"""Errors of the webhook side, mapped to HTTP in server/problems.py."""

from __future__ import annotations


class WebhookError(Exception):
    """Raised when a webhook request or configuration cannot be accepted."""

    status_code = 400
    title = "Invalid webhook request"
    slug = "invalid-webhook"


class Unverified(WebhookError):
    """Raised when a delivery's signature is missing, wrong, stale, or has no integration."""

    status_code = 401
    title = "Delivery not verified"
    slug = "unverified-delivery"


class InvalidConfiguration(WebhookError):
    """Raised when an integration or notification target is not usable as given."""

    status_code = 400
    title = "Invalid configuration"
    slug = "invalid-field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class RepositoryTaken(WebhookError):
    """Raised when another integration of the same source already lists a repository."""

    status_code = 409
    title = "Already taken"
    slug = "taken"


class TargetRefused(InvalidConfiguration):
    """Raised when a notification target resolves to an address outbound calls may not reach."""

    def __init__(self, message: str) -> None:
        super().__init__("url", message)


class ConfigurationNotFound(WebhookError):
    """Raised when no integration or notification target has the given id."""

    status_code = 404
    title = "Not found"
    slug = "not-found"
