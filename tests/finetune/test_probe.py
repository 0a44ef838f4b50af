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
    assert 0.0 < speed.row_step_seconds * 16 < speed.probe_seconds  # a run's tail: one row's step, measured


def test_it_measures_what_a_pass_from_the_frozen_layers_kept_states_costs(tmp_path):
    """With LoRA on the top quarter of the layers, a replayed step runs a quarter of them: it costs
    clearly less than a full one; with LoRA on every layer nothing is replayed (1.0)."""
    from slmconvert.models.tiny import create_tiny_model

    path = str(create_tiny_model(tmp_path / "deep", num_layers=8, hidden_size=128))
    quarter = measure(path, make_probe_plan(FinetuneParams(device="cpu", lora_layers=0.25), "cpu", None), batch=2)
    assert 0.0 < quarter.replay_cost < 0.8
    every = measure(path, make_probe_plan(FinetuneParams(device="cpu", lora_layers=1.0), "cpu", None), batch=2)
    assert every.replay_cost == 1.0


def test_decoding_is_timed_after_real_width_prompts_on_the_evaluations_own_decoder(tiny_model, monkeypatch):
    """Steps after a 4-token prompt read 20-30% cheaper than evidence then took: the probe decodes
    PROBE_TOKENS-token prompts, distinct per row, in the slots evaluation uses (or whole batches), at the
    batch and at one row, to exactly 1 + PROBE_NEW_TOKENS tokens each (less a run to one token)."""
    import torch

    import slmconvert.evaluation.continuous as continuous
    from slmconvert.finetune import probe
    from slmconvert.models.loading import load_model

    loaded = load_model(str(tiny_model))
    model, tokenizer = loaded.model, loaded.tokenizer
    seen = []
    real = continuous.SlotDecoder.decode

    def recording(self, order, on_done=None, between=None):
        rows = []
        real(self, order, lambda row: rows.append(row), between)
        seen.append(([self.prefill.encoded[i] for i in order], [len(r.tokens) for r in rows], self.slots))

    monkeypatch.setattr(continuous.SlotDecoder, "decode", recording)
    prefill, decode, row_step = probe._generation_speed(model, 200, 4, tokenizer, continuous=True)
    assert prefill > 0 and decode > 0 and row_step > 0
    timed = [s for s in seen if s[1] and s[1][0] == 1 + probe.PROBE_NEW_TOKENS]
    assert sorted(s[2] for s in timed) == [1, 4]  # the batch and one row
    for prompts, lengths, _ in timed:
        assert all(len(p) == probe.PROBE_TOKENS for p in prompts) and len({tuple(p) for p in prompts}) == len(prompts)
        assert lengths == [1 + probe.PROBE_NEW_TOKENS] * len(prompts)  # no row stops early

    calls = []
    monkeypatch.setattr(model, "generate", lambda **kw: calls.append(kw) or torch.zeros(1))
    probe._generation_speed(model, 200, 4, tokenizer, continuous=False)
    widths = {tuple(c["input_ids"].shape) for c in calls if c["max_new_tokens"] == 1 + probe.PROBE_NEW_TOKENS}
    assert widths == {(4, probe.PROBE_TOKENS), (1, probe.PROBE_TOKENS)}
