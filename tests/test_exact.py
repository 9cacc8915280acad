"""Byte-identical files: size, then head+tail, then the full hash; nothing known is read again."""

from __future__ import annotations

import os
from pathlib import Path

from mediadup.find import exact
from mediadup.find.discover import Walker
from mediadup.find.exact import EDGE, ContentHashes, content_hashes
from mediadup.records import FileStat, Kind, Skipped


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def files_of(root: Path):
    return Walker(include=("*",)).walk([str(root)]).files


def test_only_files_sharing_a_size_are_read_and_only_twins_fully(tmp_path: Path) -> None:
    big = os.urandom(5 * EDGE)
    write(tmp_path / "a.jpg", big)
    write(tmp_path / "copy" / "a.jpg", big)
    middle_differs = big[: 2 * EDGE] + b"x" * EDGE + big[3 * EDGE :]  # same head and tail, other middle
    write(tmp_path / "b.jpg", middle_differs)
    write(tmp_path / "c.jpg", os.urandom(5 * EDGE))  # same size, other head
    write(tmp_path / "d.jpg", os.urandom(1234))  # a size of its own: never read
    skipped: list[Skipped] = []
    found = content_hashes(files_of(tmp_path), ContentHashes(), skipped)
    names = lambda paths: sorted(os.path.relpath(p, tmp_path) for p in paths)  # noqa: E731
    assert names(found.partial) == ["a.jpg", "b.jpg", "c.jpg", "copy/a.jpg"]
    assert names(found.full) == ["a.jpg", "b.jpg", "copy/a.jpg"]
    assert found.full[str(tmp_path / "a.jpg")] == found.full[str(tmp_path / "copy" / "a.jpg")]
    assert found.full[str(tmp_path / "a.jpg")] != found.full[str(tmp_path / "b.jpg")]
    assert skipped == []


def test_known_hashes_are_not_read_again(tmp_path: Path) -> None:
    data = os.urandom(3000)
    for name in ("a.png", "b.png", "c.png"):
        write(tmp_path / name, data if name != "c.png" else os.urandom(3000))
    files = files_of(tmp_path)
    first = content_hashes(files, ContentHashes(), [])
    for f in files:  # gone: any attempt to read would be reported as skipped
        os.remove(f.path)
    skipped: list[Skipped] = []
    again = content_hashes(files, first, skipped)
    assert skipped == [] and again.full == first.full and again.partial == first.partial


def test_unreadable_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write(tmp_path / "a.jpg", b"1" * 100)
    write(tmp_path / "b.jpg", b"1" * 100)
    files = files_of(tmp_path)
    os.remove(files[0].path)
    skipped: list[Skipped] = []
    found = content_hashes(files, ContentHashes(), skipped)
    assert [s.reason for s in skipped] == ["cannot read: No such file or directory"]
    assert found.full == {}


def test_hashing_in_batches_stops_at_once_when_interrupted(monkeypatch) -> None:
    """Small files are hashed a batch a task (a task of the pool costs more than reading one), and
    Ctrl-C ends the stage at once: the batches not begun are dropped, not read to the end."""
    import time

    import pytest

    files = [FileStat(f"/lib/{n}.txt", 100, 0, 1, n, Kind.OTHER) for n in range(4000)]
    read: list[str] = []

    def slow(path: str, size: int) -> str:
        read.append(path)
        if len(read) == 600:
            raise KeyboardInterrupt
        time.sleep(0.001)
        return path

    monkeypatch.setattr(exact, "partial_hash", slow)
    with pytest.raises(KeyboardInterrupt):
        content_hashes(files, ContentHashes(), [], jobs=2)
    assert len(read) < 1500, "the rest of the files were read after the interruption"
    batches = exact._batches(files)
    assert [len(b) for b in batches] == [exact.HASH_BATCH] * (len(files) // exact.HASH_BATCH) + [
        len(files) % exact.HASH_BATCH
    ]
    large = [FileStat(f"/lib/{n}.mov", exact.BATCH_BYTES // 2, 0, 1, n, Kind.VIDEO) for n in range(5)]
    assert [len(b) for b in exact._batches(large)] == [2, 2, 1], "large files in batches of about BATCH_BYTES"
