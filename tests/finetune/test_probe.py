"""The throughput probe on a tiny model: what it charges for loading."""

import time

from slmconvert.finetune.budget import make_probe_plan
from slmconvert.finetune.params import FinetuneParams
from slmconvert.finetune.probe import measure


def test_the_load_it_reports_leaves_out_the_one_time_conversion(tiny_model, monkeypatch):
    """The plan charges every cluster the probe's load seconds; converting a GGUF into the model cache
    happens once per machine and must not be among them (it priced a 0.5 s load at 19 s)."""
    import slmconvert.models.loading as loading

    real, converted = loading.model_path, []

    def converting_once(name):
        if not converted:
            converted.append(name)
            time.sleep(1.0)  # the first call builds the cache entry
        return real(name)

    monkeypatch.setattr(loading, "model_path", converting_once)
    speed = measure(str(tiny_model), make_probe_plan(FinetuneParams(device="cpu"), "cpu", 60_000), batch=2)
    assert converted
    assert speed.load_seconds < 1.0
