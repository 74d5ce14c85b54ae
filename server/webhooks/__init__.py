"""Webhooks: signed deliveries from delivery tooling in, close-the-loop notifications out.

Receivers verify a delivery, store it in the inbox and answer; a worker in the API
process maps stored deliveries to domain commands afterwards, idempotently.
"""
