"""The `mediadup` command: a thin layer over the Python API."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import IO

import click
from rich.console import Console

from . import __version__
from .catalog import CatalogError
from .compare import LEVELS
from .decode import DEFAULT_MAX_PIXELS
from .progress import Reporter
from .report import print_groups, print_summary, write_csv, write_json
from .scan import scan as run_scan

EXIT_SKIPPED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


@contextmanager
def _output(target: str):
    if target == "-":
        yield sys.stdout
        return
    try:
        f: IO[str] = open(target, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as e:
        raise click.UsageError(f"cannot write {target}: {e.strerror or e}") from e
    with f:
        yield f


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mediadup")
def cli() -> None:
    """Find duplicate and near-duplicate images, and keep the best copy."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=True))
@click.option(
    "--level",
    type=click.Choice(list(LEVELS)),
    default="normal",
    show_default=True,
    help="strict finds fewer, surer duplicates; loose finds more, with more risk.",
)
@click.option("--exact-only", is_flag=True, help="Only byte-identical files (no decoding).")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for fingerprinting [default: all cores].",
)
@click.option(
    "--catalog",
    type=click.Path(dir_okay=False),
    default=None,
    help="The catalog (SQLite) of cached fingerprints [default: in the user cache folder].",
)
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching GLOB (name or path); repeatable.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files and folders matching GLOB; repeatable.")
@click.option("--follow-symlinks", is_flag=True, help="Follow symbolic links (loops are detected).")
@click.option("--hidden", is_flag=True, help="Include hidden files and folders (names starting with a dot).")
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Skip images larger than this many pixels (decompression-bomb guard).",
)
@click.option("--json", "json_out", metavar="FILE", help="Write the groups as JSON to FILE ('-': standard output).")
@click.option("--csv", "csv_out", metavar="FILE", help="Write one CSV row per file to FILE ('-': standard output).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no group listing; only the summary.")
def scan(
    paths,
    level,
    exact_only,
    jobs,
    catalog,
    include,
    exclude,
    follow_symlinks,
    hidden,
    max_pixels,
    json_out,
    csv_out,
    quiet,
) -> None:
    """Scan PATHS for duplicate images and show each group with the copy to keep.

    Nothing is modified: the scan only reads files and writes its catalog.
    Exit status: 0 done, 1 done but some files were skipped, 2 usage error.
    """
    to_stdout = "-" in (json_out, csv_out)
    console = Console(stderr=to_stdout, highlight=False, soft_wrap=True)
    try:
        result = run_scan(
            paths,
            level=level,
            exact_only=exact_only,
            jobs=jobs or 0,
            catalog=catalog,
            include=include,
            exclude=exclude,
            follow_symlinks=follow_symlinks,
            hidden=hidden,
            max_pixels=max_pixels,
            progress=Reporter(False if quiet else None),
        )
    except CatalogError as e:
        raise click.UsageError(str(e)) from e
    if json_out:
        with _output(json_out) as f:
            write_json(result, f)
    if csv_out:
        with _output(csv_out) as f:
            write_csv(result, f)
    if not quiet and not to_stdout:
        print_groups(result, console)
    print_summary(result, console)
    sys.exit(EXIT_SKIPPED if result.skipped else 0)


def main() -> None:
    """Entry point: no traceback ever reaches the user (MEDIADUP_DEBUG=1 shows it)."""
    try:
        cli.main(standalone_mode=False)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE if isinstance(e, click.UsageError) else e.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: nothing was changed; cached fingerprints are kept", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except SystemExit:
        raise
    except Exception as e:
        if os.environ.get("MEDIADUP_DEBUG"):
            raise
        click.echo(f"mediadup: internal error: {type(e).__name__}: {e} (MEDIADUP_DEBUG=1 shows details)", err=True)
        sys.exit(EXIT_INTERNAL)
