"""The `handdet` command: one Typer app, one module of subcommands per stage.

Each subcommand parses its options and calls one library function; heavy packages are imported
inside the commands, so `handdet --help` is instant. A `HanddetError` is printed as one line
(`handdet: error: ...`) with exit code 2, never as a traceback.
"""

from __future__ import annotations

import sys

import typer

from handdet import __version__
from handdet.core.errors import HanddetError, HanddetWarning

app = typer.Typer(
    name="handdet",
    help="Hand detection: convert datasets, train YOLOv8, evaluate, predict, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"handdet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Hand detection: convert datasets, train YOLOv8, evaluate, predict, export."""


def _register() -> None:
    # Each module adds its commands to `app`; the modules import nothing heavy at import time.
    from handdet.cli import (  # noqa: F401
        bench_cmds,
        compose_cmds,
        data_cmds,
        eval_cmds,
        export_cmds,
        glove_cmds,
        infer_cmds,
        mine_cmds,
        train_cmds,
    )


def _one_line_warnings(show):
    """`warnings.showwarning` that prints handdet's own warnings as one line (`handdet: warning: ...`)."""

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, HanddetWarning):
            print(f"handdet: warning: {message}", file=file or sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 2, handdet's warnings one line too."""
    import warnings

    _register()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            app(args=argv, standalone_mode=False)
    except HanddetError as e:
        print(f"handdet: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("handdet: interrupted", file=sys.stderr)
        return 130
    except typer.Exit as e:
        return e.exit_code
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    except typer.Abort:
        return 1
    except Exception as e:
        # Usage errors (bad option, missing argument) from Typer's click: printed as click prints them.
        if hasattr(e, "show") and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            return e.exit_code
        raise
    return 0
