"""The training plan: defaults that scale with data size, the budget's token share, method and precision choice."""

from __future__ import annotations

import pytest

from slmconvert.finetune import budget, memory
from slmconvert.finetune.params import FinetuneParams


def plan(params: FinetuneParams | None = None, **kw):
    args = dict(device="cpu", n_params=135_000_000, n_train=48, mean_length=120.0, max_length=256,
                completion_max=40, varlen_attention=False)
    args.update(kw)
    return budget.make_plan(params or FinetuneParams(), **args)


def test_rank_dropout_epochs_and_batch_scale_with_data_size():
    small, medium, large = (plan(device="cuda", n_train=n) for n in (50, 3000, 50_000))
    assert small.lora_rank < medium.lora_rank < large.lora_rank
    assert small.lora_alpha == 2 * small.lora_rank
    assert small.lora_dropout > medium.lora_dropout > large.lora_dropout
    assert small.epochs > medium.epochs > large.epochs
    assert small.batch_size <= medium.batch_size <= large.batch_size
    assert large.learning_rate == pytest.approx(2e-4 * (7e9 / 135e6) ** 0.5, rel=1e-3)  # narrow models: larger
    assert plan(device="cuda", n_train=50_000, n_params=7_000_000_000).learning_rate == pytest.approx(2e-4)
    assert plan(device="cpu", n_train=64).learning_rate > large.learning_rate  # short CPU runs take larger steps
    assert small.lr_scheduler == "cosine" and small.warmup_steps >= 0


def test_the_learning_rate_grows_for_narrow_models_and_short_runs_up_to_a_cap():
    rate = budget.scaled_learning_rate
    assert rate(200, 7_000_000_000) == pytest.approx(2e-4)
    assert rate(200, 70_000_000_000) == pytest.approx(2e-4)  # never below the usual rate
    assert rate(50, 7_000_000_000) == pytest.approx(4e-4)  # a quarter of the steps: twice the rate
    assert rate(200, 135_000_000) > 1e-3 > rate(200, 1_500_000_000) > 2e-4
    assert rate(1, 135_000_000) == budget.MAX_LEARNING_RATE
    assert rate(200) == pytest.approx(2e-4)  # size unknown: the usual rate


def test_explicit_params_override_the_scaled_defaults():
    p = plan(FinetuneParams(lora_rank=4, lora_alpha=7, lora_dropout=0.0, epochs=1.0, batch_size=2, learning_rate=1e-3),
             device="cuda", n_train=10)
    assert (p.lora_rank, p.lora_alpha, p.lora_dropout, p.batch_size, p.learning_rate) == (4, 7, 0.0, 2, 1e-3)
    assert p.max_steps == p.steps_per_epoch == 5


def test_the_budget_share_caps_steps_on_any_device_and_without_one_all_epochs_train():
    gpu = plan(device="cuda", n_train=48)
    assert gpu.max_steps == gpu.steps_per_epoch * 4
    for device in ("cpu", "cuda"):
        capped = plan(device=device, n_train=48, mean_length=100.0, token_budget=3000)
        assert capped.max_steps == 3000 // (capped.batch_size * 100)
    assert plan(device="cpu", n_train=48).max_steps == plan(device="cpu", n_train=48).steps_per_epoch * 4
    assert plan(FinetuneParams(max_steps=5), token_budget=100).max_steps == 5  # an explicit cap wins
    default = plan(device="cpu", n_train=48, mean_length=100.0)
    full = budget.full_plan_tokens(default, 100.0)
    assert plan(device="cpu", n_train=48, mean_length=100.0, token_budget=full).max_steps == default.max_steps
    longer = plan(device="cpu", n_train=48, mean_length=100.0, token_budget=2 * full)  # seconds left at the end
    assert longer.max_steps == 2 * default.max_steps and longer.epochs == 2 * default.epochs
    fixed = plan(FinetuneParams(epochs=1.0), device="cpu", n_train=48, mean_length=100.0, token_budget=2 * full)
    assert fixed.max_steps == fixed.steps_per_epoch  # epochs set by the user: the budget only caps them
    assert budget.train_example_cap(FinetuneParams(), "cpu") == budget.CPU_MAX_TRAIN_EXAMPLES
    assert budget.train_example_cap(FinetuneParams(), "cuda") is None
    assert budget.train_example_cap(FinetuneParams(max_train_examples=7), "cuda") == 7
    assert plan(FinetuneParams(max_steps=3), device="cuda").max_steps == 3


def test_validation_happens_at_least_twice_and_at_epoch_boundaries():
    p = plan(device="cuda", n_train=400)
    assert p.eval_every_steps == p.steps_per_epoch
    short = plan(FinetuneParams(max_steps=3), device="cuda", n_train=400)
    assert short.eval_every_steps == 2
    huge = plan(device="cuda", n_train=200_000)
    assert huge.eval_every_steps == budget.MAX_EVAL_INTERVAL


def test_method_auto_uses_qlora_only_for_big_models_on_gpu():
    auto = FinetuneParams()
    assert budget.choose_method(auto, "cuda", 1_700_000_000) == "qlora"
    assert budget.choose_method(auto, "cuda", 135_000_000) == "lora"
    assert budget.choose_method(auto, "cpu", 1_700_000_000) == "lora"
    assert budget.choose_method(FinetuneParams(method="qlora"), "cpu", 1) == "qlora"
    big = plan(device="cuda", n_params=3_000_000_000)
    assert big.method == "qlora" and big.gradient_checkpointing
    assert not plan().gradient_checkpointing


def test_precision_follows_the_hardware():
    assert budget.choose_precision(FinetuneParams(precision="fp32"), "cpu") == "fp32"
    expected = "bf16" if budget.cpu_supports_bf16() else "fp32"
    assert budget.choose_precision(FinetuneParams(), "cpu") == expected


def test_gpu_batches_are_split_into_passes_of_a_token_budget():
    p = plan(FinetuneParams(batch_size=32), device="cuda", n_train=5000, max_length=2048)
    assert p.pass_tokens == budget.GPU_TOKENS_PER_MICRO_BATCH
    assert (p.micro_batch_size, p.gradient_accumulation, p.batch_size) == (32, 1, 32)


def test_example_length_is_capped_and_cpu_batches_long_examples_smaller():
    params = FinetuneParams()
    assert budget.default_max_length(params, "cpu", 4000) == params.max_length_cap
    assert budget.default_max_length(params, "cuda", 4000) == params.max_length_cap
    assert budget.default_max_length(FinetuneParams(max_length_cap=8192), "cuda", 4000) == 4000
    assert budget.default_max_length(FinetuneParams(max_length=100), "cpu", 4000) == 100
    short, long = plan(mean_length=100.0), plan(mean_length=700.0)
    assert short.batch_size == 8 and long.batch_size == 2
    assert long.batch_size * 700 <= budget.CPU_TOKENS_PER_BATCH


def test_length_grouped_sampler_pads_little_and_reshuffles_each_epoch():
    from slmconvert.finetune.trainer import LengthGroupedSampler

    lengths = [(i * 37) % 101 + 5 for i in range(40)]
    sampler = LengthGroupedSampler(lengths, batch_size=8, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(40))
    batches = [first[i:i + 8] for i in range(0, 40, 8)]
    padded = sum(8 * max(lengths[i] for i in b) for b in batches)
    random_padded = sum(8 * max(lengths[i] for i in range(s, s + 8)) for s in range(0, 40, 8))
    assert padded < 0.8 * random_padded and padded <= 1.25 * sum(lengths)
    assert list(sampler) == first  # same epoch, same order (resume-safe)
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_yaml_off_is_accepted_for_switches():
    from slmconvert.config import resolve_params

    params = resolve_params("finetune", sets=["finetune.baseline=off", "finetune.context_distillation=off"])
    assert (params.baseline, params.context_distillation) == ("off", "off")


def test_cpu_validates_each_epoch_at_most_twice_and_drops_dropout():
    many_epochs = plan(n_train=48, mean_length=50.0, token_budget=40_000)
    assert many_epochs.max_steps > 2 * many_epochs.steps_per_epoch
    assert many_epochs.eval_every_steps == -(-many_epochs.max_steps // 2)
    part_epoch = plan(n_train=64, mean_length=700.0, token_budget=12_000)  # a fraction of one epoch
    assert part_epoch.max_steps < part_epoch.steps_per_epoch
    assert part_epoch.eval_every_steps == part_epoch.max_steps  # one validation, at the end
    assert many_epochs.lora_dropout == part_epoch.lora_dropout == 0.0
    assert plan(device="cuda", n_train=50).lora_dropout == 0.1


def test_cpu_passes_are_bounded_by_activation_memory_not_by_the_longest_example():
    long = plan(n_train=64, mean_length=400.0, max_length=448)
    assert long.pass_tokens == memory.cpu_token_budget(long.precision, 135_000_000)
    assert long.micro_batch_size == long.batch_size and long.gradient_accumulation == 1
    short = plan(n_train=64, mean_length=55.0, max_length=88)
    assert short.gradient_accumulation == 1 and short.micro_batch_size == short.batch_size == 8


def test_the_heap_is_trimmed_sooner_when_fewer_layers_keep_activations():
    """Half the layers adapted: a pass keeps about half the activations, so the heap is handed back after
    1.5 such passes' worth of growth instead of 1.5 full ones."""
    assert memory.heap_slack_mb(0.5) == pytest.approx(0.75 * memory.CPU_ACTIVATION_BUDGET_MB)
    assert memory.heap_slack_mb(0.25) < memory.heap_slack_mb(0.5) < memory.heap_slack_mb(1.0)
    assert plan(FinetuneParams(lora_layers=0.5)).lora_layers == 0.5


def test_tool_call_clusters_train_a_quarter_of_the_layers_for_more_passes_unless_the_share_is_set():
    tools, extraction, text = (plan(n_train=497, output_type=kind) for kind in ("tool_call", "json", "text"))
    assert tools.lora_layers == budget.TOOL_CALL_LORA_LAYERS == 0.25
    assert extraction.lora_layers == text.lora_layers == budget.LORA_LAYERS == 0.5
    assert tools.epochs == pytest.approx(4.0, abs=0.05) and extraction.epochs == pytest.approx(3.0, abs=0.05)
    assert plan(n_train=497).lora_layers == 0.5  # output type unknown: half
    share = plan(FinetuneParams(lora_layers=0.75), n_train=497, output_type="tool_call")
    assert share.lora_layers == 0.75 and share.epochs == tools.epochs  # the share is the user's, the passes still by type
    assert budget.scaled_epochs(5000, "tool_call") == budget.scaled_epochs(5000) == 1.0
    assert budget.make_probe_plan(FinetuneParams(), "cpu", None).lora_layers == 0.5
    assert budget.make_probe_plan(FinetuneParams(), "cpu", None, 0.25).lora_layers == 0.25
    for wrong in (0.0, 1.5, "some"):
        with pytest.raises(ValueError):
            FinetuneParams(lora_layers=wrong)
    assert FinetuneParams(lora_layers="0.25").lora_layers == 0.25  # as --set gives it


def test_an_explicit_micro_batch_accumulates_whole_passes():
    fixed = plan(FinetuneParams(batch_size=6, micro_batch_size=5), n_train=400, mean_length=700.0, max_length=800)
    assert (fixed.micro_batch_size, fixed.gradient_accumulation, fixed.pass_tokens) == (5, 2, None)


def test_more_training_examples_never_buy_fewer_example_passes_or_much_fewer_steps():
    """The defaults move smoothly with the size: the old step at 500 examples (3 passes below it, 2 and a
    doubled batch from it) gave 500 examples a third of the steps of 499. (Below 32 examples the batch
    shrinks to keep four steps a pass; steps are whole batches, so they dip by up to a batch's share where the batch grows by one.)"""
    sizes = sorted({*range(32, 12_000, 7), *(a + d for a in (100, 500, 5000) for d in (-1, 0, 1))})
    before = None
    for n in sizes:
        p = plan(device="cuda", n_train=n, mean_length=100.0)
        now = (p.max_steps, n * p.epochs)
        if before is not None:
            assert now[0] >= 0.85 * before[0] and now[1] >= before[1] - p.batch_size, (n, before, now)
        before = now
    assert budget.scaled_epochs(100) == 4.0 and budget.scaled_epochs(500) == 3.0 and budget.scaled_epochs(5000) == 1.0
    assert budget.scaled_batch(500) == 8 and budget.scaled_batch(5000) == 16 and budget.scaled_batch(10**6) == 32
