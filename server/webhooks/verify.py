"""Signature checks of GitHub, GitLab and Standard Webhooks deliveries; constant-time only."""

from __future__ import annotations

import base64
import hmac
import time

from server.webhooks.errors import Unverified

#: Standard Webhooks: how far a delivery's timestamp may lie from our clock.
TIMESTAMP_TOLERANCE = 5 * 60
_SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


def github_signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `X-Hub-Signature-256` is `sha256=<hex HMAC-SHA256 of the raw body>`."""
    if not header or not header.startswith("sha256="):
        return False
    # hmac.digest is OpenSSL's one-shot HMAC: no Python HMAC object to build per delivery.
    expected = b"sha256=" + hmac.digest(secret.encode(), body, "sha256").hex().encode()
    return hmac.compare_digest(expected, header.strip().encode())


def gitlab_token_ok(secret: str, header: str | None) -> bool:
    """Whether `X-Gitlab-Token` equals the secret (GitLab sends it as given)."""
    if not header:
        return False
    return hmac.compare_digest(secret.encode(), header.encode())


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: `whsec_<base64>` decoded, else its bytes."""
    if secret.startswith(_SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
        except ValueError:
            pass
    return secret.encode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.digest(standard_key(secret), signed, "sha256")
    return "v1," + base64.b64encode(digest).decode()


def check_standard_timestamp(timestamp: str | None, *, now: float | None = None) -> int:
    """The `webhook-timestamp` as an int; `Unverified` when absent, malformed or off by > 5 min."""
    if not timestamp:
        raise Unverified("webhook-timestamp is missing")
    try:
        value = int(timestamp)
    except ValueError:
        raise Unverified("webhook-timestamp must be seconds since the epoch") from None
    current = time.time() if now is None else now
    if abs(current - value) > TIMESTAMP_TOLERANCE:
        raise Unverified("webhook-timestamp is more than 5 minutes from the server's clock")
    return value


def standard_signature_ok(
    secret: str, message_id: str, timestamp: int, body: bytes, header: str | None
) -> bool:
    """Whether any `v1,` signature in the space-separated `webhook-signature` matches."""
    if not header:
        return False
    expected = standard_signature(secret, message_id, timestamp, body).encode()
    found = False
    for candidate in header.split():
        # Compare every candidate, so timing says nothing about which one matched.
        found |= hmac.compare_digest(expected, candidate.encode())
    return found
