"""The router the gateway serves with, swapped for a new one when iterate publishes a new LATEST.

A new version is loaded and warmed up on a background thread while the old one keeps serving;
the swap is one reference assignment, and a request keeps the router it started with, so no
request is dropped or answered by half of each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from slmconvert.router.router import Router
from slmconvert.workspace import Workspace

if TYPE_CHECKING:
    from slmconvert.cluster.assign import ClusterAssigner

log = logging.getLogger("slmconvert.serve")

RouterLoader = Callable[[Path], Router]


@dataclass(frozen=True)
class LoadedRouter:
    """One router version (router None: no iterate version yet, every call goes to the LLM)."""

    router: Router | None
    version: str | None
    directory: Path | None


def load_router(directory: Path) -> Router:
    """The production loader: the router with its real cluster assigner, warmed up.

    No embedding cache on disk: live requests are raw, and their text must not reach a cache.
    """
    router = Router.load(directory)
    # the router builds its real assigner here (no test fake): load the seed and the embedding model
    # and run it once now, not on the first request
    cast("ClusterAssigner", router.assigner).warm_up()
    return router


class RouterHolder:
    """The current router, and the thread that watches `<workdir>/iterate/LATEST`."""

    def __init__(self, workspace: Workspace, loader: RouterLoader = load_router, pinned: Path | None = None,
                 on_swap: Callable[[LoadedRouter, LoadedRouter], None] | None = None) -> None:
        self.workspace = workspace
        self.loader = loader
        self.pinned = pinned
        self.on_swap = on_swap
        self.failed: dict[str, str] = {}  # version -> why it could not be loaded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current = LoadedRouter(None, None, None)
        if pinned is not None:
            self.current = LoadedRouter(loader(pinned), pinned.name, pinned)
        else:
            self.refresh(strict=True)

    def refresh(self, strict: bool = False) -> bool:
        """Load the router LATEST names if it is new; True when it was swapped in.

        strict (at start-up): a router that cannot load is an error; later, the old one keeps serving.
        """
        version = self.workspace.latest_version("iterate")
        if self.pinned is not None or version is None or version == self.current.version or version in self.failed:
            return False
        directory = self.workspace.stage_dir("iterate") / version / "router"
        try:
            router = self.loader(directory)
        except Exception as exc:  # noqa: BLE001 - a broken new version must not stop the old one serving
            if strict:
                raise
            self.failed[version] = f"{type(exc).__name__}: {exc}"
            log.warning("iterate version %s has no usable router (%s); still serving %s",
                        version, type(exc).__name__, self.current.version or "the LLM only")
            return False
        previous, self.current = self.current, LoadedRouter(router, version, directory)
        if self.on_swap is not None:
            self.on_swap(self.current, previous)
        log.info("serving router of iterate version %s", version)
        return True

    def watch(self, every_s: float) -> None:
        """Poll LATEST every `every_s` seconds on a daemon thread (no-op for a pinned router)."""
        if self.pinned is not None or every_s <= 0 or self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(every_s):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="slmconvert-router-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
