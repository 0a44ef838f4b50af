"""The generator: deterministic per seed, streaming-friendly options, and the committed files up to date."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from sample_logs.generate import generate, main

COMMITTED = Path(__file__).resolve().parents[2] / "sample_logs"


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def _content_digests(folder: Path) -> dict[str, str]:
    """Digests of the decompressed content: gzip bytes may differ between zlib builds, the data may not."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.name.endswith((".jsonl", ".jsonl.gz")):
            data = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            out[p.name] = hashlib.sha256(data).hexdigest()
    return out


def test_same_seed_gives_identical_bytes(tmp_path):
    a = generate(tmp_path / "a", seed=3, n_calls=150, days=3)
    b = generate(tmp_path / "b", seed=3, n_calls=150, days=3)
    assert a == b
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


def test_other_seed_gives_other_data(tmp_path):
    generate(tmp_path / "a", seed=3, n_calls=150, days=3, with_malformed=False)
    generate(tmp_path / "b", seed=4, n_calls=150, days=3, with_malformed=False)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert set(a) & set(b)
    assert all(a[name] != b[name] for name in set(a) & set(b))


def test_stdlib_json_writes_the_same_bytes_as_orjson(sample):
    """Lines are written with orjson when installed; the stdlib fallback must give identical bytes."""
    for lines in sample.lines.values():
        for text in lines:
            assert json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":")) == text


def test_scale_formats_and_plain_files(tmp_path):
    summary = generate(
        tmp_path,
        seed=5,
        n_calls=100,
        scale=2,
        compress=False,
        formats=("openai_chat",),
        with_faults=False,
        with_malformed=False,
        days=2,
    )
    names = set(summary["files"]) - {"_truth.jsonl"}
    assert names == {"flywheel_support.jsonl", "flywheel_ops.jsonl"}
    assert summary["calls_total"] == 200
    assert set(summary["kinds"]) <= {"ok", "duplicate"}
    assert len(summary["calls"]) == 8  # every task still present, all in the one allowed format


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, n_calls=10, formats=("langfuse",))


def test_cli_prints_summary(tmp_path, capsys):
    assert main(["--seed", "2", "--out", str(tmp_path), "--n-calls", "40", "--no-malformed"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["seed"] == 2 and summary["calls_total"] >= 39


def test_committed_sample_logs_are_regenerated_byte_for_byte(tmp_path):
    """`python sample_logs/generate.py --seed 7 --out sample_logs/` must reproduce what is committed."""
    committed = _content_digests(COMMITTED)
    if not committed:
        pytest.skip("sample logs not generated in this checkout")
    generate(tmp_path, seed=7)
    assert _content_digests(tmp_path) == committed


def test_committed_sample_logs_meet_the_brief():
    truth_path = COMMITTED / "_truth.jsonl"
    if not truth_path.exists():
        pytest.skip("sample logs not generated in this checkout")
    rows = [json.loads(x) for x in truth_path.read_text(encoding="utf-8").splitlines()]
    ok = [r for r in rows if r["kind"] == "ok"]
    assert len(ok) >= 3000
    assert len({r["task"] for r in ok}) >= 7
    assert len({r["format"] for r in ok}) >= 3
    kinds = {r["kind"] for r in rows}
    assert {"error", "truncated", "duplicate", "invalid_args", "malformed"} <= kinds
    pii = set().union(*(r["pii"] for r in ok))
    secrets = set().union(*(r["secrets"] for r in ok))
    assert {
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "STREET_ADDRESS",
        "CREDIT_CARD",
        "IP_ADDRESS",
    } <= pii
    from sample_logs.gen.entities import SECRET_KINDS

    assert set(SECRET_KINDS) | {"AWS_SECRET_KEY"} <= secrets
    days = {r["timestamp"][:10] for r in ok}
    assert len(days) >= 20
    assert sum(p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file()) < 20_000_000
