"""Fingerprinting on a real Dask LocalCluster (worker processes started by the test)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from PIL import ImageOps

from conftest import photo, save
from mediadup import scan
from mediadup.fingerprint.cluster import Cluster, ClusterError
from mediadup.measure.footage import render, transcode

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    ) as local:
        yield local


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """40 distinct 2-MP pictures (slow enough to decode that a scan takes a few seconds on the
    cluster), copies of a few of them, and a video with a re-encoded copy."""
    root = tmp_path_factory.mktemp("lib")
    for n in range(40):
        im = photo(300 + n, (400, 300)).resize((1600, 1200))
        save(im, root / "pictures" / f"p{n:02d}.png", compress_level=1)
        if n % 10 == 0:
            save(im.resize((800, 600)), root / "copies" / f"p{n:02d}.jpg", quality=85)
            save(ImageOps.mirror(im), root / "copies" / f"p{n:02d}-mirror.png", compress_level=1)
    render(str(root / "clip.mp4"), [photo(7, (480, 360)), photo(8, (480, 360))], size=(256, 144), fps=15)
    transcode(str(root / "clip.mp4"), str(root / "clip-small.mkv"), scale=0.5)
    return root


def as_sets(result) -> list[tuple[str, list[tuple[str, str]]]]:
    return sorted((g.keeper.path, sorted((m.path, m.relation.value) for m in g.duplicates)) for g in result.groups)


def test_cluster_gives_the_same_groups_as_a_local_scan(library: Path, cluster, tmp_path: Path) -> None:
    local = scan(library, catalog=tmp_path / "local.sqlite", jobs=1)
    remote = scan(library, catalog=tmp_path / "dask.sqlite", dask=cluster.scheduler_address)
    assert len(local.groups) == 5 and as_sets(local) == as_sets(remote)
    assert remote.summary.fingerprinted == local.summary.fingerprinted == 50
    again = scan(library, catalog=tmp_path / "dask.sqlite", dask=cluster.scheduler_address)
    assert again.summary.fingerprinted == 0 and as_sets(again) == as_sets(local)  # the catalog is filled


def test_a_killed_worker_costs_only_its_tasks(library: Path, cluster, tmp_path: Path) -> None:
    expected = as_sets(scan(library, catalog=tmp_path / "local.sqlite", jobs=1))
    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    result = scan(library, catalog=tmp_path / "dask.sqlite", dask=cluster.scheduler_address)
    killer.join()
    assert killed, "no worker was busy to be killed"
    assert as_sets(result) == expected and not result.skipped


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        Cluster("tcp://127.0.0.1:9", timeout="1s")


def test_cli_takes_the_scheduler_from_the_environment_and_local_starts_its_own(
    library: Path, cluster, tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys

    out = tmp_path / "r.json"
    env = {**os.environ, "MEDIADUP_DASK": cluster.scheduler_address}
    run = subprocess.run(
        [sys.executable, "-m", "mediadup", "scan", str(library), "--catalog", str(tmp_path / "c"), "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert len(json.loads(out.read_text())["groups"]) == 5
    small = tmp_path / "small"
    for name in ("a.png", "b.jpg"):
        save(photo(1), small / name)
    result = scan(small, catalog=tmp_path / "local.sqlite", dask="local", jobs=1)
    assert [len(g.members) for g in result.groups] == [2]
