"""The run fingerprint covers the code that runs and the device, not only params and inputs."""

from __future__ import annotations

from slmconvert.finetune.params import FinetuneParams
from slmconvert.stages import runner
from slmconvert.util import source


def test_changed_code_changes_the_fingerprint(monkeypatch):
    params = FinetuneParams(device="cpu")
    before = runner.fingerprint("finetune", params, {}, {})
    monkeypatch.setattr(runner, "package_digest", lambda: "sha256:other-checkout")
    assert runner.fingerprint("finetune", params, {}, {}) != before


def test_the_device_is_part_of_the_fingerprint(monkeypatch):
    params = FinetuneParams(device="auto")
    monkeypatch.setattr(runner, "pick_device", lambda preferred: "cpu")
    on_cpu = runner.fingerprint("finetune", params, {}, {})
    monkeypatch.setattr(runner, "pick_device", lambda preferred: "cuda")
    assert runner.fingerprint("finetune", params, {}, {}) != on_cpu


def test_source_digest_sees_every_byte(tmp_path):
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg" / "a.py"
    module.write_text("x = 1\n")
    first = source.source_digest(tmp_path)
    module.write_text("x = 2\n")
    assert source.source_digest(tmp_path) != first
