"""The `mediadup` command: a thin layer over the Python API."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from contextlib import contextmanager
from importlib.metadata import version
from typing import IO

import click
from rich.console import Console
from rich.markup import escape

from . import api
from .progress import Reporter
from .records import MediadupError, display_path, plural
from .report.text import human_size, print_groups, print_summary, write_csv

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


@contextmanager
def _usage():
    """Errors the user can act on end the command with their message (exit 2)."""
    try:
        yield
    except api.NothingToUndo as e:
        click.echo(str(e))
        sys.exit(EXIT_SKIPPED)
    except MediadupError as e:
        raise click.UsageError(str(e)) from e


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(version("mediadup"), prog_name="mediadup")
def cli() -> None:
    """Find duplicate and near-duplicate images and videos, and keep the best copy."""


_REMOVAL_OPTIONS = (
    click.option("--action", "op", type=click.Choice(api.ACTIONS), default="trash", show_default=True,
                 help="trash: to the desktop trash; move: into --to DIR; delete: permanently (needs --permanent); "
                 "hardlink, symlink, reflink: replace byte-identical copies by links to the keeper."),
    click.option("--to", "to", type=click.Path(file_okay=False), help="Folder for --action move (keeps the path)."),
    click.option("--permanent", is_flag=True, help="Confirm --action delete: no undo is possible."),
    click.option("--keep", default="quality", show_default=True, metavar="RULES", callback=lambda c, p, v: _policy(v),
                 help="Which copy stays: rules in order, joined by commas (the next breaks the ties of the one "
                 "before): quality (the scan's choice), resolution, content-resolution, format, camera-original, "
                 "largest, longest (videos), oldest, newest, shortest-path, prefer:DIR. Example: "
                 "prefer:~/Originals,camera-original,quality."),
    click.option("--include-subclips", is_flag=True,
                 help="Also remove videos found inside a longer video (relation 'contained')."),
    click.option("--merge-metadata", is_flag=True,
                 help="Before removing a picture, copy the capture date, GPS and camera it has and its keeper "
                 "lacks into the keeper (pixels unchanged; undoable; needs mediadup[metadata])."),
    click.option("--include-uncertain", is_flag=True,
                 help="Also remove pictures that may be duplicates (relation 'uncertain': too little detail to be "
                 "sure, such as flat graphics in other colours)."),
    click.option("--include-similar", is_flag=True,
                 help="Also remove similar shots (relation 'similar', from scan --similar), keeping the best shot."),
    click.option("--reference", multiple=True, type=click.Path(exists=True, file_okay=False), metavar="DIR",
                 help="Files under DIR are never touched; others go only if they duplicate one. Repeatable."),
    click.option("--yes", is_flag=True, help="Carry out the plan (without it, only print it)."),
)  # fmt: skip


def _policy(keep: str) -> str:
    try:
        api.check_policy(keep)
    except MediadupError as e:
        raise click.BadParameter(str(e), param_hint="--keep") from e
    return keep


def removal_options(command):
    for option in reversed(_REMOVAL_OPTIONS):
        command = option(command)
    return command


def _check_removal(op: str, permanent: bool) -> None:
    if op == "delete" and not permanent:
        raise click.UsageError("--action delete removes files for good: add --permanent to confirm")


def remove(catalog: str | None, console: Console, plan_file: str | None = None, remember: bool = False, *,
           op: str, permanent: bool, yes: bool, **options) -> int:  # fmt: skip
    """Plan the removal of every duplicate, print it, and carry it out with --yes; the exit status."""
    _check_removal(op, permanent)
    with _usage():
        plan = api.plan(catalog, action=op, plan_file=plan_file, **options)
    for path, why in plan.left_out:
        console.print(f"left out {display_path(path)}: {why}", markup=False, style="yellow")
    for note in plan.notes:
        console.print(f"note: {note}", markup=False, style="yellow")
    if remember:
        _remember(plan, catalog, yes, console)
    left_out = EXIT_SKIPPED if plan.left_out else 0
    if not yes:
        _print_plan(plan, console)
        return left_out
    with _usage():
        outcome = api.apply(plan, catalog)
    for path, reason in outcome.skipped:
        console.print(f"skipped {display_path(path)}: {reason}", markup=False, style="yellow")
    removal = api.REMOVALS[op]
    keepers = len({m.keeper for m in outcome.merged})
    merged = f"; metadata merged into {plural(keepers, 'keeper')}" if keepers else ""
    undoable = "; `mediadup undo` restores them" if removal.undoable else ""
    console.print(f"{removal.done}: {plural(len(outcome.done), 'file')} ({human_size(outcome.reclaimed)} "
                  f"{removal.frees}); {len(outcome.skipped)} skipped{merged}{undoable}")  # fmt: skip
    if outcome.interrupted:
        console.print(f"interrupted: stopped after {plural(len(outcome.done), 'file')}, each whole; the rest are "
                      "untouched" + undoable, style="yellow")  # fmt: skip
        return EXIT_INTERRUPTED
    return max(left_out, EXIT_SKIPPED if outcome.skipped else 0)


def _print_plan(plan: api.Plan, console: Console) -> None:
    merges = {id(m) for m in plan.merges}
    for a in plan.actions:
        if id(a) in merges:
            console.print(f"{'merge':8} {','.join(a.kinds)} from {display_path(a.source)} into "
                          f"{display_path(a.keeper)}", markup=False)  # fmt: skip
        else:
            where = f" -> {display_path(a.target)}" if a.target else ""
            line = f"{a.op:8} {display_path(a.path)}{where}  ({a.relation.value} of {display_path(a.keeper)}, "
            console.print(line + f"{human_size(a.size)})", markup=False)
    total = sum(a.size for a in plan.removals)
    console.print(f"plan: {plural(len(plan.removals), 'file')}, {human_size(total)}; nothing changed "
                  "(add --yes to carry it out)")  # fmt: skip


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=True))
@click.option(
    "--level",
    type=click.Choice(api.LEVELS),
    default="normal",
    show_default=True,
    help="strict finds fewer, surer duplicates; loose finds more, with more risk.",
)
@click.option("--exact-only", is_flag=True, help="Only byte-identical files (no decoding).")
@click.option("--images", "images_only", is_flag=True, help="Only images (with --videos too: both, the default).")
@click.option("--videos", "videos_only", is_flag=True, help="Only videos (with --images too: both, the default).")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel workers for hashing, fingerprinting and verification [default: all cores].",
)
@click.option(
    "--catalog",
    type=click.Path(dir_okay=False),
    default=None,
    help="The catalog (SQLite) of cached fingerprints [default: in the user cache folder].",
)
@click.option(
    "--dask",
    metavar="ADDRESS",
    envvar=api.DASK_ENV,
    default=None,
    help="Fingerprint on a Dask cluster: its scheduler (tcp://host:8786), or 'local' for one on this machine "
    f"[env: {api.DASK_ENV}].",
)
@click.option("--include", multiple=True, metavar="GLOB", help="Only files matching GLOB (name or path); repeatable.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files and folders matching GLOB; repeatable.")
@click.option("--follow-symlinks", is_flag=True, help="Follow symbolic links (loops are detected).")
@click.option("--hidden", is_flag=True, help="Include hidden files and folders (names starting with a dot).")
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=api.DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Skip images, and videos whose frames are, larger than this many pixels (decompression-bomb guard).",
)
@click.option("--json", "json_out", metavar="FILE", help="Write the groups as JSON to FILE ('-': standard output).")
@click.option("--csv", "csv_out", metavar="FILE", help="Write one CSV row per file to FILE ('-': standard output).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no group listing; only the summary.")
@click.option(
    "--similar", is_flag=True, help="Also show groups of similar but distinct shots (bursts, editions), never removed."
)
@click.option(
    "--skipped-ok", is_flag=True, help="Exit 0 even when some files could not be read (they are still listed)."
)
@click.option("--apply", "then_apply", is_flag=True, help="Then remove the duplicates found (see the options below).")
@removal_options
def scan(
    paths,
    level,
    exact_only,
    images_only,
    videos_only,
    jobs,
    catalog,
    dask,
    include,
    exclude,
    follow_symlinks,
    hidden,
    max_pixels,
    json_out,
    csv_out,
    quiet,
    then_apply,
    similar,
    skipped_ok,
    **removal,
) -> None:
    """Scan PATHS for duplicate images and videos and show each group with the copy to keep.

    Nothing is modified: the scan only reads files and writes its catalog; with --apply it then
    plans the removal (and carries it out with --yes), like `mediadup apply`.
    Exit status: 0 done, 1 done but some files could not be read (0 with --skipped-ok), 2 usage
    error or unusable catalog, 3 internal error, 130 interrupted.
    """
    with _usage():
        api.check_outputs((json_out, csv_out), catalog)
    if then_apply:
        _check_removal(removal["op"], removal["permanent"])
    to_stdout = "-" in (json_out, csv_out)
    console = Console(stderr=to_stdout, highlight=False, soft_wrap=True)
    with _usage():
        result = api.scan(
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
            images=images_only,
            videos=videos_only,
            dask=dask,
            similar=similar,
            progress=Reporter(False if quiet else None),
        )
    if json_out:
        with _output(json_out) as f:
            api.write_json(result, f)
    if csv_out:
        with _output(csv_out) as f:
            write_csv(result, f)
    if not quiet and not to_stdout:
        print_groups(result, console)
    print_summary(result, console)
    status = EXIT_SKIPPED if result.skipped and not skipped_ok else 0
    if then_apply:
        status = max(status, remove(catalog, console, **removal))
    sys.exit(status)


@cli.command("apply")
@click.option("--from", "plan_file", metavar="FILE", help="Act on this --json result (edit it first if you like).")
@click.option(
    "--remember",
    is_flag=True,
    help="With --from: groups (or files) taken out of the edited plan are not duplicates; remember it.",
)
@removal_options
@click.option("--catalog", type=click.Path(dir_okay=False), default=None, help="The catalog of the scan.")
def apply_command(plan_file, remember, catalog, **removal) -> None:
    """Remove the duplicates of the last scan (or of --from FILE), keeping each group's keeper.

    Without --yes, prints the plan and changes nothing. Every action is journaled; `mediadup undo`
    puts back what trash, move and the link actions changed.
    """
    console = Console(highlight=False, soft_wrap=True)
    if remember and not plan_file:
        raise click.UsageError("--remember needs --from FILE: the edited plan says which files are not duplicates")
    sys.exit(remove(catalog, console, plan_file, remember, **removal))


def _remember(plan: api.Plan, catalog: str | None, yes: bool, console: Console) -> None:
    """Store the pairs taken out of a plan as "not duplicates" (with --yes; else say how many)."""
    with _usage():
        remembered = api.remember_taken_out(plan, catalog, store=yes)
    for path in remembered.unreadable:
        console.print(f"not remembered: {display_path(path)} cannot be read", markup=False, style="yellow")
    pairs = plural(remembered.pairs, "pair")
    if yes:
        console.print(f"remembered {pairs} as not duplicates (`mediadup ignore --list` shows them)")
    else:
        console.print(f"--remember: {pairs} would be remembered as not duplicates (with --yes)")


@cli.command("ignore")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--list", "listing", is_flag=True, help="List the decisions, and change nothing.")
@click.option("--forget", is_flag=True, help="Forget the decisions between PATHS (one path: every decision about it).")
@click.option("--catalog", type=click.Path(dir_okay=False), default=None, help="The catalog to keep the decision in.")
def ignore_command(paths, listing, forget, catalog) -> None:
    """Say that PATHS are not duplicates of one another: later scans never group them together.

    Decisions are kept by content, so they hold when the files are renamed or moved."""
    console = Console(highlight=False, soft_wrap=True)
    with _usage():
        if listing:
            rows = api.ignored(catalog)
            for _a, _b, at, pa, pb in rows:
                day = time.strftime("%Y-%m-%d %H:%M", time.localtime(at))
                console.print(f"{day}  {display_path(pa)}  !=  {display_path(pb)}", markup=False)
            console.print(f"{plural(len(rows), 'pair')} remembered as not duplicates")
        elif forget:
            if not paths:
                raise click.UsageError("--forget needs the files whose decisions to forget")
            console.print(f"forgot {plural(api.forget(paths, catalog), 'decision')}")
        elif len(paths) < 2:
            raise click.UsageError("give at least two files that are not duplicates of one another")
        else:
            new = api.ignore(paths, catalog)
            console.print(f"remembered {plural(new, 'pair')} as not duplicates; later scans will not group them")


@cli.command("calibrate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--images",
    "n_images",
    type=click.IntRange(min=0),
    default=40,
    show_default=True,
    help="How many of your pictures to sample.",
)
@click.option(
    "--videos",
    "n_videos",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="How many of your videos to sample (each copy is a re-encode: they take longest).",
)
@click.option(
    "--level",
    "levels",
    multiple=True,
    type=click.Choice(api.LEVELS),
    help="Levels to measure (repeatable) [default: all].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Which random sample.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Parallel workers [default: all cores].")
def calibrate_command(paths, n_images, n_videos, levels, seed, jobs) -> None:
    """Measure each --level on a sample of your own media: precision and recall, per kind of copy.

    Copies of the sample (recompressed, resized, cropped, rotated, watermarked...) are made in a
    temporary folder and scanned; your files are only read."""
    console = Console(highlight=False, soft_wrap=True)
    with console.status("calibrating") as status:
        result = api.calibrate(paths, n_images, n_videos, levels or api.LEVELS, seed, jobs or 0,
                           lambda what: status.update(f"calibrating: {escape(display_path(what))}"))  # fmt: skip
    if not result.made:
        raise click.UsageError("no readable pictures or videos to sample under " + ", ".join(paths))
    measured = list(result.levels)
    console.print(f"{plural(result.pictures, 'picture')} and {plural(result.videos, 'video')} sampled (seed {seed}), "
                  f"{sum(result.made.values())} copies made and scanned in {result.seconds:.0f} s")  # fmt: skip
    console.print(f"{'copies found':<18}{'':>6}" + "".join(f"{level:>9}" for level in measured), style="bold")
    for kind, n in result.made.items():
        found = "".join(f"{result.levels[level].found[kind] / n:>9.3f}" for level in measured)
        console.print(f"{kind:<18}{n:>6}{found}")
    console.print(f"{'all copies':<18}{sum(result.made.values()):>6}"
                  + "".join(f"{result.recall(level):>9.3f}" for level in measured))  # fmt: skip
    console.print(f"{'pair precision':<24}" + "".join(f"{result.levels[lv].precision:>9.4f}" for lv in measured))
    console.print(f"{'false pairs':<24}" + "".join(f"{len(result.levels[lv].false_pairs):>9}" for lv in measured))
    for level in measured:
        own = result.levels[level].own_pairs
        for a, b in sorted(set(result.levels[level].false_pairs))[:10]:
            why = (
                "two files of yours grouped as they are: if they are duplicates in your library, this pair is not false"
                if tuple(sorted((a, b))) in own
                else "copies of two different files of yours grouped"
            )
            console.print(f"  at {level}: {display_path(a)} ~ {display_path(b)} ({why})", markup=False,
                          style="yellow")  # fmt: skip
    if result.same_bytes:
        console.print(f"{plural(result.same_bytes, 'sampled file')} byte-identical to another one: not counted")
    console.print(f"suggested level: [bold]{result.suggested}[/] ({result.why_suggested})")


@cli.command("report")
@click.option("--html", "html_out", required=True, metavar="FILE", help="Write the review page of the last scan.")
@click.option("--catalog", type=click.Path(dir_okay=False), default=None, help="The catalog of the scan.")
def report_command(html_out, catalog) -> None:
    """Write a self-contained HTML page to review the last scan's groups side by side."""
    with _usage():
        count = api.write_review(html_out, catalog)
    click.echo(f"{plural(count, 'group')} written to {html_out}")


@cli.command("review")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--catalog", type=click.Path(dir_okay=False), default=None, help="The catalog of the scan.")
@click.option(
    "--level",
    type=click.Choice(api.LEVELS),
    default="normal",
    show_default=True,
    help="With PATHS: the level of the scan made first.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="With PATHS: parallel workers.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback lets other machines reach the page (with its token).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port to listen on [default: a free one].")
@click.option("--no-browser", is_flag=True, help="Do not open the page in the default browser.")
def review_command(paths, catalog, level, jobs, host, port, no_browser) -> None:
    """Review the last scan (or scan PATHS first) in your browser: compare, choose keepers, apply, undo.

    The page's address, with the token every request needs, is printed when the server listens.
    Ctrl-C stops the server (an apply in progress ends first)."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if paths:
        with _usage():
            result = api.scan(paths, level=level, jobs=jobs or 0, catalog=catalog, progress=Reporter(None))
        print_summary(result, console)
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"warning: listening on {host}: other machines can reach the page; it still needs its token",
                      style="yellow")  # fmt: skip

    def announce(url: str) -> None:
        click.echo(url)
        sys.stdout.flush()
        console.print("reviewing the last scan; Ctrl-C stops")
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    with _usage():
        api.review(catalog, host, port, announce)
    console.print("review stopped (what the page applied is in the journal: `mediadup undo` restores it)")


@cli.command("undo")
@click.option("--all", "everything", is_flag=True, help="Undo every apply not undone yet, not only the last.")
@click.option(
    "--id", "apply_id", type=int, default=None, help="Undo this apply (ids are listed by `mediadup undo --list`)."
)
@click.option("--list", "listing", is_flag=True, help="List the applies in the journal, and change nothing.")
@click.option("--catalog", type=click.Path(dir_okay=False), default=None, help="The catalog of the apply.")
def undo_command(everything, apply_id, listing, catalog) -> None:
    """Put back the files that the last `mediadup apply` trashed or moved (an apply that was
    interrupted just before it is included); say which cannot come back, and why."""
    console = Console(highlight=False, soft_wrap=True)
    with _usage():
        if listing:
            for row in api.applies(catalog):
                click.echo("apply {} {} files={} started={} {}".format(*row))
            return
        result = api.undo(catalog, everything=everything, apply_id=apply_id)
    for path, why in result.not_restored:
        console.print(f"not restored {display_path(path)}: {why}", markup=False, style="yellow")
    console.print(f"restored {plural(len(result.restored), 'file')}; {len(result.not_restored)} could not be restored")
    if result.interrupted:
        console.print("interrupted: each file was put back whole; run `mediadup undo` again for the rest",
                      style="yellow")  # fmt: skip
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_SKIPPED if result.not_restored else 0)


def main() -> None:
    """Entry point: no traceback ever reaches the user (MEDIADUP_DEBUG=1 shows it)."""
    try:
        cli.main(standalone_mode=False)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE if isinstance(e, click.UsageError) else e.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # apply and undo stop between two actions on their own; here no file was being changed
        scanning = sys.argv[1:2] in (["scan"], ["calibrate"])
        kept = "no scanned file was changed; finished fingerprints and verdicts are kept"
        click.echo("\ninterrupted: " + (kept if scanning else "stopped before changing any file"), err=True)
        sys.exit(EXIT_INTERRUPTED)
    except sqlite3.Error as e:
        click.echo(f"mediadup: the catalog cannot be used: {e}", err=True)
        sys.exit(EXIT_USAGE)
    except BrokenPipeError:  # `mediadup scan ... | head`: the reader left; end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except SystemExit:
        raise
    except Exception as e:
        if os.environ.get("MEDIADUP_DEBUG"):
            raise
        click.echo(f"mediadup: internal error: {type(e).__name__}: {e} (MEDIADUP_DEBUG=1 shows details)", err=True)
        sys.exit(EXIT_INTERNAL)
