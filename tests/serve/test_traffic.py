"""Served traffic: every answer logged once (200 concurrent requests, none lost), owner-only files
that `collect` reads back as calls, `--no-log`, crash recovery, and router swaps mid-traffic."""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import os
import stat
import threading
import time

import httpx
import pytest

from slmconvert.collect.pipeline import CollectOptions, collect
from slmconvert.serve.traffic import TrafficLog, recover
from slmconvert.util.tables import iter_table
from tests.router.fakes import LOOKUP_TOOL
from tests.serve.harness import running, write_router_version

pytestmark = pytest.mark.timeout(90)


def read_lines(directory):
    lines = []
    for path in sorted(directory.glob("*.jsonl.gz")):
        lines += [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return lines


def _request(i: int) -> dict:
    kinds = [("where is order A-{i}?", [LOOKUP_TOOL]), ("draft memo {i}", []), ("hi {i}", []),
             ("order A-{i} [unsure]", [LOOKUP_TOOL])]
    text, tools = kinds[i % len(kinds)]
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": text.format(i=i)}]}
    if tools:
        body["tools"] = tools
    if i % 5 == 0:
        body["stream"] = True
    return body


def test_200_requests_from_16_clients_200_answers_200_log_lines(tmp_path):
    work = tmp_path / "work"
    write_router_version(work, "v1")
    with running(work, rotate_bytes=64 << 10) as run:  # small files: rotation happens under load too
        client = run.client()

        def one(i: int) -> tuple[int, str]:
            body = _request(i)
            if body.get("stream"):
                chunks = list(client.chat.completions.create(**body))
                return i, chunks[0].id
            return i, client.chat.completions.create(**body).id

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = dict(pool.map(one, range(200)))
    assert len(answers) == 200
    served = work / "served"
    lines = read_lines(served)
    assert len(lines) == 200
    assert not list(served.glob("*.open"))  # every file closed on shutdown
    assert len(list(served.glob("*.jsonl.gz"))) > 1  # rotated
    assert stat.S_IMODE(served.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in served.iterdir())
    logged = {line["request"]["messages"][0]["content"] for line in lines}
    assert logged == {_request(i)["messages"][0]["content"] for i in range(200)}
    routes = [line["metadata"]["slmconvert"] for line in lines]
    assert sum(r["route"] == "slm" for r in routes) == 50
    assert sum(r["escalation"] == "low_confidence" for r in routes) == 50
    assert all(r["router_version"] == "v1" for r in routes)


def test_served_logs_are_collect_input(tmp_path):
    work = tmp_path / "work"
    write_router_version(work, "v1")
    with running(work) as run:
        client = run.client()
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "where is order A-9?"}],
                                       tools=[LOOKUP_TOOL])
        list(client.chat.completions.create(model="gpt-test", stream=True,
                                            messages=[{"role": "user", "content": "draft a memo"}]))
        list(client.chat.completions.create(model="gpt-test", stream=True, tools=[LOOKUP_TOOL],
                                            messages=[{"role": "user", "content": "where is order A-8?"}]))
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "order A-1 [unsure]"}],
                                       tools=[LOOKUP_TOOL], extra_headers={"x-slmconvert-workload-id": "support"})
    out = tmp_path / "collected"
    out.mkdir()
    summary = collect([str(work / "served")], out, CollectOptions(dedupe=False))
    assert summary["rejects"] == 0
    calls = {c["messages"][-1]["content"]: c for c in iter_table(out / "calls.parquet")}
    assert set(calls) == {"where is order A-9?", "draft a memo", "where is order A-8?", "order A-1 [unsure]"}
    slm = calls["where is order A-9?"]
    assert slm["model"] == "slmconvert/cluster-0"  # SLM-served calls stay recognisable downstream
    assert slm["output"]["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert slm["tools"][0]["function"]["name"] == "lookup_order"
    streamed = calls["where is order A-8?"]
    assert streamed["output"]["tool_calls"][0]["function"]["arguments"] == {"order_id": "A-8"}
    assert calls["draft a memo"]["output"]["content"] == "LLM says: draft a memo"
    assert calls["order A-1 [unsure]"]["workload_id"] == "support"
    assert calls["order A-1 [unsure]"]["model"] == "gpt-test"


def test_no_log(tmp_path):
    work = tmp_path / "work"
    write_router_version(work, "v1")
    with running(work, log_traffic=False) as run:
        run.client().chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        assert httpx.get(run.url + "/healthz").json()["traffic_log"] is None
    assert not (work / "served").exists()


def test_a_crashed_writers_file_is_recovered(tmp_path):
    log = TrafficLog(tmp_path / "served")
    for i in range(3):
        log.write({"i": i})
    time.sleep(1.5)  # the writer flushes what it has after a quiet second
    open_file = next((tmp_path / "served").glob("*.open"))
    copy = open_file.with_name(open_file.name.replace(f"-{os.getpid()}.", "-999999999."))
    copy.write_bytes(open_file.read_bytes())  # as if a dead process had left it
    log.close()
    final = recover(copy)
    assert [json.loads(x) for x in gzip.decompress(final.read_bytes()).splitlines()] == [{"i": 0}, {"i": 1}, {"i": 2}]
    again = TrafficLog(tmp_path / "served")  # a live writer's file is not touched
    assert again.recovered == []
    again.close()


def test_router_swap_mid_traffic_drops_nothing(tmp_path):
    """A new iterate LATEST (here: the cluster demoted) is picked up while requests keep flowing."""
    work = tmp_path / "work"
    write_router_version(work, "v1")
    with running(work) as run:
        client = run.client()
        results: list[tuple[str, str]] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                try:
                    raw = client.chat.completions.with_raw_response.create(
                        model="gpt-test", messages=[{"role": "user", "content": "where is order A-3?"}],
                        tools=[LOOKUP_TOOL])
                    raw.parse()
                    results.append((raw.headers["x-slmconvert-router-version"], raw.headers["x-slmconvert-route"]))
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)

        workers = [threading.Thread(target=traffic) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(0.5)
        write_router_version(work, "v2", promoted=False)
        deadline = time.monotonic() + 10
        while not any(v == "v2" for v, _ in results[-4:]) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for w in workers:
            w.join(10)
        metrics = httpx.get(run.url + "/metrics").text
    assert not errors
    versions = [v for v, _ in results]
    assert "v1" in versions and "v2" in versions
    assert {route for v, route in results if v == "v1"} == {"slm"}
    assert {route for v, route in results if v == "v2"} == {"llm"}
    assert "slmconvert_router_swaps_total 1" in metrics
    assert len(read_lines(work / "served")) == len(results)


def test_serving_starts_before_the_first_iterate_and_picks_it_up(tmp_path):
    work = tmp_path / "work"
    with running(work) as run:
        raw = run.client().chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "where is order A-1?"}], tools=[LOOKUP_TOOL])
        assert raw.headers["x-slmconvert-route"] == "llm" and raw.headers["x-slmconvert-router-version"] == "none"
        write_router_version(work, "v1")
        deadline = time.monotonic() + 10
        while httpx.get(run.url + "/healthz").json()["router_version"] != "v1":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        raw = run.client().chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "where is order A-1?"}], tools=[LOOKUP_TOOL])
        assert raw.headers["x-slmconvert-route"] == "slm"


def test_a_broken_new_router_keeps_the_old_one_serving(tmp_path):
    work = tmp_path / "work"
    write_router_version(work, "v1")
    with running(work) as run:
        (work / "iterate" / "v2" / "router").mkdir(parents=True)  # no router.json
        (work / "iterate" / "LATEST").write_text("v2\n")
        deadline = time.monotonic() + 10
        while not httpx.get(run.url + "/healthz").json()["failed_router_versions"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        raw = run.client().chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "where is order A-1?"}], tools=[LOOKUP_TOOL])
        assert raw.headers["x-slmconvert-router-version"] == "v1" and raw.headers["x-slmconvert-route"] == "slm"


def test_a_router_version_is_warmed_up_before_it_serves(tmp_path, monkeypatch):
    """The production loader runs the embedding model once while loading, so neither the first
    request nor the first after a swap pays for loading it; the warm-up text is memoised nowhere."""
    from slmconvert.router import embedding
    from slmconvert.serve import routers

    class Recording:
        warmed = 0

        def warm_up(self):
            self.warmed += 1

        def assign(self, records):
            return [(0, 1.0)] * len(records)

    made = []
    monkeypatch.setattr(embedding, "cached_assigner", lambda seed_dir, cache: made.append(Recording()) or made[-1])
    router = routers.load_router(write_router_version(tmp_path / "work", "v1"))
    assert [a.warmed for a in made] == [1] and router.assigner is made[0]
