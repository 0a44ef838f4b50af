"""Write the hostile input directory: a sample-log slice, canary-laden calls in every format, broken files.

Returns a `HostileInputs` with every canary (and where it went), the sample slice's own sensitive
values, and per file how collect must account for its lines.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from tests.hostile import broken, formats
from tests.hostile.broken import Expect
from tests.hostile.canaries import Canary, CanaryFactory
from tests.hostile.long_texts import straddle_results
from tests.hostile.plant import Planter
from tests.hostile.scan import NeedleIndex

SAMPLE_CALLS = 100
TAG_CALLS = 18


@dataclass
class HostileInputs:
    logs: Path
    canaries: list[Canary]
    sample_values: list[tuple[str, str]]  # (type, value) the sample slice's own generator recorded
    expects: dict[str, Expect]


def _dump(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


class Writer:
    """Writes JSON Lines files and flushes each record's canaries with its file and line."""

    def __init__(self, logs: Path, planter: Planter) -> None:
        self.logs = logs
        self.planter = planter
        self.expects: dict[str, Expect] = {}

    def lines(self, name: str, records: Iterable[dict | bytes], duplicate_every: int = 0) -> None:
        """One record (or raw bytes line) per line; every duplicate_every-th record line repeated once."""
        out: list[bytes] = []
        dups = 0
        for record in records:
            out.append(record if isinstance(record, bytes) else _dump(record))
            self.planter.flush(name, len(out))
            if duplicate_every and not isinstance(record, bytes) and len(out) % duplicate_every == 0:
                out.append(out[-1])
                dups += 1
        data = b"\n".join(out) + b"\n"
        (self.logs / name).write_bytes(data)
        self.expects[name] = Expect(name, "lines", text=data, duplicates=dups)

    def raw(self, name: str, made: tuple[bytes, Expect]) -> None:
        data, expect = made
        expect.name = name
        self.planter.flush(name, None)
        (self.logs / name).write_bytes(data)
        self.expects[name] = expect


def _with_straddles(planter: Planter, fmt: str) -> Iterator[dict]:
    """OpenAI-chat calls whose tool results are the long straddling texts (four results per call)."""
    results = straddle_results(planter, fmt)
    for start in range(0, len(results), 4):
        batch = results[start:start + 4]
        ids = [f"call_{start + i}" for i in range(len(batch))]
        messages = [{"role": "system", "content": "You are ShopRight's warehouse copilot."},
                    {"role": "user", "content": "Reconcile today's stock dumps and tell me what failed."},
                    {"role": "assistant", "content": None, "tool_calls": [
                        {"id": i, "type": "function", "function": {"name": "fetch_dump", "arguments": "{}"}} for i in ids]}]
        messages += [{"role": "tool", "tool_call_id": i, "content": text} for i, text in zip(ids, batch, strict=True)]
        yield {"timestamp": formats.TS, "workload_id": "warehouse", "request": {"model": formats.MODEL, "messages": messages},
               "response": {"id": f"chatcmpl-long{start}", "object": "chat.completion", "created": formats.TS,
                            "model": formats.MODEL, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                "role": "assistant", "content": "All dumps reconciled; no failures."}}],
                            "usage": {"prompt_tokens": 90000, "completion_tokens": 10}}}


def _sample_slice(root: Path, logs: Path, seed: int) -> tuple[list[tuple[str, str]], list[str]]:
    from sample_logs.generate import generate

    tmp = root / "sample-gen"
    generate(tmp, seed=seed, n_calls=SAMPLE_CALLS, compress=False, with_malformed=True, days=2, truth_values=True)
    values = []
    for line in (tmp / "_truth.jsonl").read_text().splitlines():
        values += [tuple(v) for v in json.loads(line).get("sensitive") or ()]
    names = sorted(p.name for p in tmp.iterdir() if not p.name.startswith("_"))
    for name in names:
        shutil.move(str(tmp / name), logs / name)
    return sorted(set(values)), names


def build(root: Path, seed: int = 12) -> HostileInputs:
    """Every hostile input under root/logs (inputs only: nothing else lives there)."""
    logs = root / "logs"
    logs.mkdir(parents=True)
    sample_values, sample_files = _sample_slice(root, logs, seed)
    factory = CanaryFactory(seed)
    planter = Planter(factory)
    w = Writer(logs, planter)

    w.lines("hostile_openai_chat.jsonl", chain(
        formats.openai_chat_lines(planter), formats.tag_lines(planter, TAG_CALLS), _with_straddles(planter, "openai_chat"),
        broken.truncated_lines(formats.tag_lines(planter, 2)), (b"", b"   ")), duplicate_every=7)
    w.lines("hostile_anthropic.jsonl", formats.anthropic_lines(planter), duplicate_every=3)
    w.lines("hostile_finetune.jsonl", formats.finetune_lines(planter))
    w.lines("hostile_otel.jsonl", formats.otel_lines(planter))
    w.lines("hostile_langfuse.jsonl", formats.langfuse_lines(planter))
    w.lines("hostile_langsmith.jsonl", formats.langsmith_lines(planter))
    outputs: list[dict] = []

    def batch_inputs() -> Iterator[dict]:  # canaries of a pair are filed under its input line
        for inp, out in formats.batch_pairs(planter):
            if out is not None:
                outputs.append(out)
            yield inp

    w.lines("hostile_batch_input.jsonl", batch_inputs())
    w.lines("hostile_batch_output.jsonl", reversed(outputs))
    elements = list(formats.llm_cli_elements(planter))
    w.raw("hostile_llm_logs.json", broken.json_array_file("hostile_llm_logs.json", elements))
    w.raw("truncated_array.json", broken.truncated_array_file(list(formats.llm_cli_elements(planter))))
    w.raw("utf16_bom.jsonl", broken.utf16_file(list(formats.tag_lines(planter, 3))))
    w.raw("nul_line.jsonl", broken.nul_line_file(list(formats.tag_lines(planter, 5))))
    w.raw("garbage.log", broken.garbage_file(seed))
    w.raw("empty.jsonl", broken.empty_file())
    w.raw("hostile_extra.jsonl.gz", broken.gzip_file("hostile_extra.jsonl.gz", list(formats.tag_lines(planter, 4))))
    w.raw("corrupt.jsonl.gz", broken.corrupt_gzip(seed))
    w.raw("truncated.jsonl.gz", broken.truncated_gzip(list(formats.tag_lines(planter, 12))))

    for path in sorted(logs.iterdir()):
        if path.name not in w.expects:
            w.expects[path.name] = Expect(path.name, "lines", text=path.read_bytes())
    _drop_colliding(factory.canaries, [logs / n for n in sample_files])
    return HostileInputs(logs, factory.canaries, sample_values, w.expects)


def _drop_colliding(canaries: list[Canary], sample_files: list[Path]) -> None:
    """Needles that also occur in the sample slice's own text would give false alarms: drop them."""
    index = NeedleIndex(n for c in canaries for n in c.needles)
    found: set[str] = set()
    for path in sample_files:
        found |= index.find(path.read_text("utf-8", "replace"))
    for canary in canaries:
        canary.needles = tuple(n for n in canary.needles if n not in found)
