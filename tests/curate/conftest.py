"""Curate test fixtures: one Presidio analyzer per session (built with networking blocked and
watched), and sockets blocked around every curate test module."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from slmconvert.curate.analyzer import PiiAnalyzer
from slmconvert.curate.params import CurateParams
from slmconvert.curate.scrub import Scrubber
from slmconvert.curate.surrogates import Pseudonymiser

KEY = bytes(range(32))
NETWORK_ATTEMPTS: list[str] = []


def _refuse(name: str):
    def guard(*args, **kwargs):
        NETWORK_ATTEMPTS.append(f"{name}{args[1:2] or args[:1]}")
        raise OSError(f"network disabled in tests ({name})")
    return guard


def block_network(mp: pytest.MonkeyPatch) -> None:
    """Every way out of the machine raises and is recorded in NETWORK_ATTEMPTS."""
    mp.setattr(socket.socket, "connect", _refuse("connect"))
    mp.setattr(socket.socket, "connect_ex", _refuse("connect_ex"))
    mp.setattr(socket, "create_connection", _refuse("create_connection"))
    mp.setattr(socket, "getaddrinfo", _refuse("getaddrinfo"))


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[list[str]]:
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        yield NETWORK_ATTEMPTS


@pytest.fixture(scope="session")
def params() -> CurateParams:
    return CurateParams()


@pytest.fixture(scope="session")
def analyzer(params) -> PiiAnalyzer:
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        built = PiiAnalyzer(params)
        built.analyze_text("write to someone@example-shop.co.uk or ops@nowhere.dev", True)
    return built


@pytest.fixture(scope="session")
def scrubber(analyzer, params) -> Scrubber:
    return Scrubber(analyzer, Pseudonymiser(KEY), params)


def found(analyzer: PiiAnalyzer, text: str) -> list[tuple[str, str]]:
    """(entity, value) pairs the analyzer reports for a text."""
    return [(s.entity, text[s.start:s.end]) for s in analyzer.analyze_text(text)]
