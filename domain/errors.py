"""Errors shared by every aggregate and the event-store port."""

from __future__ import annotations


class DomainError(Exception):
    """Raised when a command breaks a rule of the domain (the root of all domain errors)."""


class ConcurrencyConflict(DomainError):
    """Raised when an aggregate was changed by someone else since it was loaded."""

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class StaleVersion(ConcurrencyConflict):
    """Raised when the caller's expected version is not the aggregate's current version."""


class NotFound(DomainError):
    """Raised when a referenced aggregate does not exist."""


class InvalidTransition(DomainError):
    """Raised when an action is impossible in the aggregate's current state."""

    def __init__(self, thing: str, state: str, action: str) -> None:
        super().__init__(f"cannot {action} {thing}: it is {state}")
        self.thing = thing
        self.state = state
        self.action = action


class ValidationError(DomainError):
    """Raised when a command's input is invalid (names the offending field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
