"""Turning errors into one line and an exit code (tracebacks only with --debug)."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from artifacts.errors import ArtifactsError


def run_cli(app: Callable[..., object], argv: list[str]) -> int:
    """Run the typer ``app`` on ``argv``; return the process exit code.

    0 success; 1 a command that ran but whose result is not clean (not all FRESH, failed
    tasks, a refused check); 2 usage and configuration errors (typer's own usage errors
    included).
    """
    debug = "--debug" in argv
    try:
        app(args=argv, prog_name="artifacts")
    except SystemExit as exc:  # typer's standalone mode always ends with SystemExit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ArtifactsError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc.line()}", file=sys.stderr)
        return exc.exit_code
    return 0
