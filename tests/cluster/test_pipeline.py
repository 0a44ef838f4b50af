"""The cluster step end to end on synthetic calls (fast hashing embedder): tasks, noise, splits,
labels, determinism and held-out assignment through the router seed."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from slmconvert.cluster.assign import ClusterAssigner, assign
from slmconvert.cluster.params import ClusterParams
from slmconvert.cluster.pipeline import discover_tasks
from slmconvert.cluster.signature import request_key
from slmconvert.cluster.synthetic import synthetic_calls
from slmconvert.errors import BadInputError, ConfigError

from .conftest import HashingEmbedder, coarse_task


@pytest.fixture(scope="module")
def found(calls_3k):
    return discover_tasks(calls_3k, ClusterParams(), embedder=HashingEmbedder())


def _majority(labels, tasks):
    by_task = defaultdict(Counter)
    for label, task in zip(labels, tasks, strict=True):
        by_task[task][int(label)] += 1
    return {task: counts.most_common(1)[0][0] for task, counts in by_task.items()}


def test_recovers_the_tasks(found, calls_3k):
    truth = [coarse_task(r) for r in calls_3k]
    assert adjusted_rand_score(truth, found.call_labels) > 0.9
    assert found.totals["noise_share"] < 0.05
    assert found.totals["router_self_agreement"] > 0.97
    sizes = [c["size"] for c in found.clusters]
    assert sizes == sorted(sizes, reverse=True) and [c["id"] for c in found.clusters] == list(range(len(sizes)))


def test_labels_shares_and_candidates(found, calls_3k):
    by_task = _majority(found.call_labels, [coarse_task(r) for r in calls_3k])
    clusters = {c["id"]: c for c in found.clusters}
    support = clusters[by_task["support_agent/reply"]]
    assert support["output_type"] == "tool_call" and support["agent_step"] and support["candidate"]
    assert support["label"].startswith("tool_call: ") and "issue_refund" in support["label"]
    invoice = clusters[by_task["extract_invoice"]]
    assert invoice["output_type"] == "json" and "invoice" in invoice["keywords"]
    plan = clusters[by_task["plan"]]
    assert not plan["candidate"] and "open-ended" in plan["why_not"][0]
    assert abs(sum(c["share_calls"] for c in found.clusters) + found.totals["noise_share"] - 1) < 1e-3
    assert plan["share_cost"] > plan["share_calls"]  # long outputs cost more
    assert all(c["router_threshold"] < 1 for c in found.clusters)


def test_splits_keep_request_groups_on_one_side(found, calls_3k):
    by_id = {r["call_id"]: r for r in calls_3k}
    sides = defaultdict(set)
    for row in found.splits:
        sides[(row["cluster_id"], request_key(by_id[row["call_id"]]))].add(row["split"])
    assert all(len(s) == 1 for s in sides.values())
    for cluster in found.clusters:
        counts = cluster["splits"]
        assert counts["validation"] >= 1 and counts["test"] >= 1
        assert counts["train"] > counts["validation"] + counts["test"]
    assert len(found.splits) == int((found.call_labels >= 0).sum())


def test_splits_are_stratified_by_called_tool(found, calls_3k):
    by_task = _majority(found.call_labels, [coarse_task(r) for r in calls_3k])
    by_id = {r["call_id"]: r for r in calls_3k}
    tools = defaultdict(Counter)
    for row in found.splits:
        if row["cluster_id"] == by_task["support_agent/reply"]:
            calls = by_id[row["call_id"]]["output"].get("tool_calls") or [{"function": {"name": "(text)"}}]
            tools[row["split"]][calls[0]["function"]["name"]] += 1
    for split in ("validation", "test"):
        assert {"lookup_order", "issue_refund"} <= set(tools[split])


def test_same_input_in_any_order_gives_the_same_clusters(calls_3k, found):
    shuffled = list(calls_3k)
    random.Random(5).shuffle(shuffled)
    again = discover_tasks(shuffled, ClusterParams(), embedder=HashingEmbedder())
    first = dict(zip((r["call_id"] for r in calls_3k), found.call_labels.tolist(), strict=True))
    second = dict(zip((r["call_id"] for r in shuffled), again.call_labels.tolist(), strict=True))
    assert first == second
    assert [c["label"] for c in found.clusters] == [c["label"] for c in again.clusters]
    assert sorted(map(str, found.splits), key=str) == sorted(map(str, again.splits), key=str)


def test_held_out_calls_are_assigned_to_their_own_cluster(found, calls_3k, tmp_path):
    found.seed.save(tmp_path / "seed")
    assigner = ClusterAssigner.load(tmp_path / "seed", embedder=HashingEmbedder())
    by_task = _majority(found.call_labels, [coarse_task(r) for r in calls_3k])
    held_out = synthetic_calls(400, seed=99)  # new ids, names, amounts, phrasings
    decisions = assigner.assign(held_out)
    right = [cid == by_task[coarse_task(r)] for r, (cid, _) in zip(held_out, decisions, strict=True)]
    assert np.mean(right) > 0.95
    assert np.mean([conf for _, conf in decisions]) > 0.4
    one_shot = assign(held_out[:20], tmp_path / "seed", embedder=HashingEmbedder())
    assert [c for c, _ in one_shot] == [c for c, _ in decisions[:20]]
    np.testing.assert_allclose([p for _, p in one_shot], [p for _, p in decisions[:20]], atol=1e-4)


def test_a_new_call_is_embedded_in_one_encoder_call_and_then_memoised(found, tmp_path):
    """Serving assigns one call at a time: its new context and request texts share one forward pass."""
    found.seed.save(tmp_path / "seed")
    embedder = HashingEmbedder()
    assigner = ClusterAssigner.load(tmp_path / "seed", embedder=embedder)
    call = synthetic_calls(1, seed=123)[0]
    first = assigner.assign([call])
    assert embedder.calls == 1 and embedder.texts_encoded >= 1
    assert assigner.assign([call]) == first and embedder.calls == 1
    batch = synthetic_calls(30, seed=124)
    together, alone = assigner.assign(batch), [assigner.assign([c])[0] for c in batch]
    assert [c for c, _ in together] == [c for c, _ in alone]
    np.testing.assert_allclose([p for _, p in together], [p for _, p in alone], atol=1e-4)


def test_unrelated_calls_stay_on_the_llm(found, tmp_path):
    found.seed.save(tmp_path / "seed")
    assigner = ClusterAssigner.load(tmp_path / "seed", embedder=HashingEmbedder())
    strangers = [r for r in synthetic_calls(600, seed=7, noise=1.0)]
    decisions = assigner.assign(strangers)
    assert np.mean([cid == -1 for cid, _ in decisions]) > 0.9
    assert all(conf == 0.0 for cid, conf in decisions if cid == -1)


def test_noise_calls_are_left_out_of_clusters():
    calls = synthetic_calls(1600, seed=3, noise=0.05)  # ~80 one-off calls, fewer than the smallest task
    run = discover_tasks(calls, ClusterParams(min_cluster_size=60), embedder=HashingEmbedder())
    noise = np.array([r["metadata"]["task"] == "noise" for r in calls])
    assert (run.call_labels[noise] == -1).mean() > 0.9
    assert (run.call_labels[~noise] == -1).mean() < 0.03
    assert run.totals["noise_calls"] >= noise.sum() * 0.9


def test_a_seed_refuses_another_embedder(found, tmp_path):
    found.seed.save(tmp_path / "seed")
    other = HashingEmbedder()
    other.model_id = "something-else"
    with pytest.raises(ConfigError):
        ClusterAssigner.load(tmp_path / "seed", embedder=other)


def test_no_calls_is_a_bad_input_error():
    with pytest.raises(BadInputError):
        discover_tasks([], ClusterParams(), embedder=HashingEmbedder())


def test_few_calls_are_all_noise_not_a_crash():
    run = discover_tasks(synthetic_calls(12, seed=1), ClusterParams(), embedder=HashingEmbedder())
    assert run.clusters == [] and run.totals["noise_share"] == 1.0 and run.splits == []
    assert ClusterAssigner(run.seed, HashingEmbedder()).assign(synthetic_calls(3, seed=2)) == [(-1, 0.0)] * 3


def test_workload_tags_are_reported_not_used(calls_3k, found):
    tagged = [dict(r, workload_id=coarse_task(r)) for r in calls_3k]
    run = discover_tasks(tagged, ClusterParams(), embedder=HashingEmbedder())
    assert (run.call_labels == found.call_labels).all()  # tags changed nothing
    assert run.agreement["ari"] > 0.9 and run.agreement["tags"] == 7
    assert found.agreement is None


def test_an_agent_cluster_splits_by_step_only_where_each_step_is_big_enough():
    from slmconvert.cluster.featurize import SignatureSet
    from slmconvert.cluster.pipeline import split_agent_steps

    structures = ["json", "tools/continue", "tools/reply"]
    # signatures: (context, request, structure) rows; cluster 0 = a tool agent, 1 = an extraction task
    rows = np.array([[0, 0, 2], [0, 1, 2], [0, 0, 1], [0, 1, 1], [1, 2, 0], [0, 2, 1]])
    counts = np.array([30, 20, 25, 10, 50, 5])
    sigs = SignatureSet(["a", "b"], ["r0", "r1", "r2"], structures, rows, counts, np.arange(6))
    labels = np.array([0, 0, 0, 0, 1, -1])
    split = split_agent_steps(labels, sigs, min_size=30)
    assert split[:2].tolist() == [0, 0] and split[2:4].tolist() == [2, 2]  # reply 50 calls, continue 35
    assert split[4] == 1 and split[5] == -1  # JSON and noise untouched
    assert (split_agent_steps(labels, sigs, min_size=40) == labels).all()  # continue (35) too small: one task


def test_warm_up_runs_the_encoder_and_memoises_nothing(found, tmp_path):
    found.seed.save(tmp_path / "seed")
    embedder = HashingEmbedder()
    assigner = ClusterAssigner.load(tmp_path / "seed", embedder=embedder)
    assigner.warm_up()
    assert embedder.calls == 1 and not any(assigner._memo.values())


def test_a_call_in_a_known_context_embeds_its_request_alone(found, tmp_path):
    """The seed carries the embeddings of the contexts its calls share: assigning a new call in one of
    them encodes the request only, and decides as encoding both would (and as an older seed does)."""
    from safetensors.numpy import load_file, save_file

    from slmconvert.cluster.featurize import signature_set
    from slmconvert.cluster.seed import ARRAYS_FILE, text_digest

    assert 0 < len(found.seed.known_contexts) <= len(found.sigs.contexts)
    found.seed.save(tmp_path / "seed")
    calls = synthetic_calls(40, seed=321)
    contexts = set(signature_set(calls, found.seed.signature).contexts)
    assert contexts & set(found.sigs.contexts)  # new calls, contexts seen in the clustered ones
    embedder = HashingEmbedder()
    assigner = ClusterAssigner.load(tmp_path / "seed", embedder=embedder)
    known = {text_digest(c) for c in contexts} & set(assigner.seed.known_contexts)
    decided = assigner.assign(calls)
    requests = set(signature_set(calls, found.seed.signature).requests)
    assert embedder.texts_encoded == len(requests) + len(contexts) - len(known)

    arrays = load_file(str(tmp_path / "seed" / ARRAYS_FILE))  # a seed written before it carried contexts
    save_file({"centroids": arrays["centroids"]}, str(tmp_path / "seed" / ARRAYS_FILE))
    older, counting = ClusterAssigner.load(tmp_path / "seed", embedder=HashingEmbedder()), HashingEmbedder()
    older.embedder = counting
    assert not older.seed.known_contexts
    again = older.assign(calls)
    assert counting.texts_encoded == len(requests) + len(contexts)
    assert [c for c, _ in again] == [c for c, _ in decided]
    np.testing.assert_allclose([p for _, p in again], [p for _, p in decided], atol=1e-5)
