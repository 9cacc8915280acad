"""Fingerprinting on a Dask cluster (`--dask tcp://scheduler:8786`, or `local` for one machine).

The workers read the files by the same paths and return fingerprints; this process streams them
into the catalog and does the matching. Tasks are small batches of files, so a worker that dies
costs only its unfinished batches, which the scheduler gives to another worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..records import MediadupError

ENV = "MEDIADUP_DASK"
CONNECT_TIMEOUT = "20s"


class ClusterError(MediadupError):
    """The cluster cannot be used; the message says why."""


def run_batch(fn: Callable[[Any], Any], items: list) -> list:
    """One task: a few files, so results stream back while the cluster works."""
    return [fn(item) for item in items]


class Cluster:
    """A Dask client, connected to a running scheduler or to a `LocalCluster` it starts."""

    def __init__(self, address: str, jobs: int = 0, timeout: str = CONNECT_TIMEOUT):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ClusterError("--dask needs the Dask extra: pip install 'mediadup[dask]'") from None
        self.local = None
        try:
            if address == "local":
                self.local = LocalCluster(
                    n_workers=jobs or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=50,  # CRITICAL only: the scan reports for itself
                )
                address = self.local.scheduler_address
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            self.close()
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        self.address = address

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any], batch: int | None = None) -> Iterator[Any]:
        """fn(item) for every item, run on the cluster, in completion order."""
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        size = batch or max(1, min(16, len(items) // (self.workers * 4)))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        futures = self.client.map(run_batch, [fn] * len(chunks), chunks, pure=False, retries=2)
        try:
            for future in as_completed(futures, loop=self.client.loop):
                yield from future.result()
                future.release()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.local is not None:
            self.local.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
