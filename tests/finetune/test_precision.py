"""Which CPUs train in bf16, how many threads, and how much a CPU training pass may hold."""

from __future__ import annotations

import pytest

from slmconvert.finetune import budget, memory
from slmconvert.finetune.params import FinetuneParams
from slmconvert.util import device

EPYC_GENOA = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512vl\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
SKYLAKE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512vl\n"
NO_PROBES = {"capability": "AVX512", "avx512_bf16": False, "amx_bf16": False}


def test_avx512_bf16_without_amx_trains_in_bf16():
    """The AMD EPYC case: the kernel lists avx512_bf16, no AMX, and torch's own probes say no."""
    use, why = device.cpu_bf16_decision(device.cpu_flags(EPYC_GENOA), NO_PROBES)
    assert use and "avx512_bf16" in why


def test_amx_or_torch_probe_alone_is_enough():
    assert device.cpu_bf16_decision(device.cpu_flags(SAPPHIRE_RAPIDS), NO_PROBES)[0]
    probes = {"capability": "AVX512", "avx512_bf16": True, "amx_bf16": False}
    assert device.cpu_bf16_decision(frozenset(), probes)[0]  # no /proc/cpuinfo (e.g. macOS, containers)


def test_no_native_bf16_or_no_avx512_kernels_stays_fp32():
    use, why = device.cpu_bf16_decision(device.cpu_flags(SKYLAKE), NO_PROBES)
    assert not use and "no AVX-512 BF16" in why
    use, why = device.cpu_bf16_decision(device.cpu_flags(EPYC_GENOA), {**NO_PROBES, "capability": "AVX2"})
    assert not use and "AVX2" in why
    assert device.cpu_flags("no flags line at all") == frozenset()


def test_precision_auto_on_cpu_follows_the_detection(monkeypatch):
    monkeypatch.setattr(device, "cpu_bf16_support", lambda: (True, "native bf16 (avx512_bf16)"))
    assert budget.choose_precision(FinetuneParams(), "cpu") == "bf16"
    assert budget.choose_precision(FinetuneParams(precision="fp32"), "cpu") == "fp32"  # forced fp32 stays
    monkeypatch.setattr(device, "cpu_bf16_support", lambda: (False, "no AVX-512 BF16 or AMX on this CPU"))
    assert budget.choose_precision(FinetuneParams(), "cpu") == "fp32"


def test_physical_cores_count_cores_not_hyperthreads(monkeypatch):
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    smt = "".join(f"processor\t: {i}\nphysical id\t: 0\ncore id\t: {i // 2}\n\n" for i in range(4))
    assert device.physical_cores(smt) == 2
    single = "".join(f"processor\t: {i}\nphysical id\t: 0\ncore id\t: {i}\n\n" for i in range(4))
    assert device.physical_cores(single) == 4
    assert device.physical_cores("") == 4  # nothing to go by: the usable CPUs


def test_cpu_passes_fit_the_activation_budget_and_checkpoint_only_when_one_example_cannot():
    def plan(**kw):
        args = dict(device="cpu", n_params=135_000_000, n_train=64, mean_length=120.0, max_length=256,
                    completion_max=40, varlen_attention=False)
        return budget.make_plan(FinetuneParams(**kw.pop("params", {})), **{**args, **kw})

    for precision in ("bf16", "fp32"):
        p = plan(params={"precision": precision})
        assert p.pass_tokens * memory.activation_mb_per_token(precision, 135_000_000) \
            <= memory.CPU_ACTIVATION_BUDGET_MB
        assert not p.gradient_checkpointing
    long = plan(params={"precision": "fp32"}, max_length=2048, mean_length=1500.0)
    assert long.gradient_checkpointing and long.pass_tokens == memory.cpu_token_budget("fp32", 135_000_000, True)
    assert not plan(params={"precision": "fp32", "gradient_checkpointing": "off"}, max_length=2048).gradient_checkpointing
    assert not plan(device="cuda", max_length=2048).gradient_checkpointing  # GPUs keep their own rule


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_bigger_models_get_smaller_passes(precision):
    small = memory.cpu_token_budget(precision, 135_000_000)
    big = memory.cpu_token_budget(precision, 1_700_000_000)
    assert big < small / 3
    assert memory.cpu_token_budget(precision, 135_000_000, checkpointing=True) >= 2 * small


def test_threads_shrink_to_physical_cores_but_a_smaller_choice_is_kept(monkeypatch):
    import torch

    monkeypatch.setattr(device, "physical_cores", lambda text=None: 2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert device.configure_threads() == 1 and torch.get_num_threads() == 1
        assert device.configure_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
