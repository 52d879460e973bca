"""`handdet` subcommands for the export stage."""

from __future__ import annotations

from handdet.cli import app  # noqa: F401
