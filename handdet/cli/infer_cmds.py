"""`handdet` subcommands for the infer stage."""

from __future__ import annotations

from handdet.cli import app  # noqa: F401
