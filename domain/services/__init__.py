"""Async application services: load aggregates, run one command, save, answer plain Structs."""
