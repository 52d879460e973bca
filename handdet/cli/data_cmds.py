"""`handdet` subcommands for the data stage."""

from __future__ import annotations

from handdet.cli import app  # noqa: F401
