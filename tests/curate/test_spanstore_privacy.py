"""The span store holds nothing a reader without the workspace secret can use: keyed digests in
owner-only files, one store per secret, and unkeyed stores of older versions deleted."""

from __future__ import annotations

import hashlib
import sqlite3
import stat

from slmconvert.curate.analyzer import PiiAnalyzer
from slmconvert.curate.params import CurateParams
from slmconvert.curate.spanstore import open_store, text_digest

SECRET = b"\x01" * 32
OTHER_SECRET = b"\x02" * 32
SHORT_VALUES = ["078-05-1120", "6789", "priya.raman@example.org"]


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stored_keys(path) -> set[bytes]:
    with sqlite3.connect(path) as db:
        return {bytes(key) for (key,) in db.execute("SELECT key FROM spans")}


def unkeyed(text: str, ner: bool) -> bytes:
    """The digest an older slmconvert stored: anyone can compute it for a guessed value."""
    return hashlib.blake2b(text.encode(), digest_size=16, person=b"ner" if ner else b"rx").digest()


def test_store_file_journal_and_directory_are_owner_only(tmp_path):
    directory = tmp_path / "curate-spans"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    store = open_store(directory, CurateParams(), SECRET)
    assert mode(directory) == 0o700
    assert mode(store.path) == 0o600
    store._db.execute("BEGIN IMMEDIATE")
    store._db.execute("INSERT INTO spans (key, spans) VALUES (?, ?)", (b"k" * 16, b"[]"))
    journals = list(directory.glob(store.path.name + "-*"))
    assert journals, "a write in progress keeps a journal next to the store"
    assert all(mode(journal) == 0o600 for journal in journals)
    store._db.rollback()
    store.close()


def test_an_existing_store_made_world_readable_is_made_owner_only_again(tmp_path):
    open_store(tmp_path, CurateParams(), SECRET).close()
    path = next(tmp_path.glob("spans-*.sqlite"))
    path.chmod(0o644)
    open_store(tmp_path, CurateParams(), SECRET).close()
    assert mode(path) == 0o600


def test_stored_digests_cannot_be_recomputed_without_the_secret(analyzer, tmp_path):
    store = open_store(tmp_path, CurateParams(), SECRET)
    fresh = PiiAnalyzer(CurateParams(), engine=analyzer.engine, store=store)
    fresh.analyze([(value, ner) for value in SHORT_VALUES for ner in (True, False)])
    store.close()
    keys = stored_keys(store.path)
    assert len(keys) == len(SHORT_VALUES) * 2
    guessable = {unkeyed(value, ner) for value in SHORT_VALUES for ner in (True, False)}
    assert not keys & guessable
    with_raw_secret = {text_digest(SECRET, value, ner) for value in SHORT_VALUES for ner in (True, False)}
    assert not keys & with_raw_secret, "the digest key is derived for this purpose, not the pseudonym key"
    assert set(fresh._cache) == keys, "the in-run cache holds the same keyed digests"


def test_stores_of_different_secrets_share_no_hits(analyzer, tmp_path):
    first = open_store(tmp_path, CurateParams(), SECRET)
    PiiAnalyzer(CurateParams(), engine=analyzer.engine, store=first).analyze([(v, True) for v in SHORT_VALUES])
    first.close()
    other = open_store(tmp_path, CurateParams(), OTHER_SECRET)
    assert other.path != first.path and not first.path.exists(), "a store of another secret is deleted"
    second = PiiAnalyzer(CurateParams(), engine=analyzer.engine, store=other)
    second.analyze([(v, True) for v in SHORT_VALUES])
    assert second.stats["store_hits"] == 0
    other.close()
    # Even the same file read with another key answers nothing.
    reader = PiiAnalyzer(CurateParams(), engine=analyzer.engine,
                         store=type(other)(other.path, b"\x03" * 32))
    reader.analyze([(v, True) for v in SHORT_VALUES])
    assert reader.stats["store_hits"] == 0


def test_an_unkeyed_store_of_an_older_version_is_deleted(tmp_path):
    directory = tmp_path / "curate-spans"
    directory.mkdir()
    old = directory / "spans-0123456789abcdef.sqlite"
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE spans (key BLOB PRIMARY KEY, spans BLOB NOT NULL)")
        db.execute("INSERT INTO spans VALUES (?, ?)", (unkeyed("6789", True), b"[]"))
    (directory / (old.name + "-journal")).write_bytes(b"")
    store = open_store(directory, CurateParams(), SECRET)
    assert sorted(p.name for p in directory.iterdir()) == [store.path.name]
    assert store.get_many([unkeyed("6789", True)]) == {}
    store.close()
