"""A stage used only by the foundation tests: copies its extra text into an output file."""

from __future__ import annotations

import time

from pydantic import Field

from slmconvert.params import StageParams
from slmconvert.stages.base import StageContext, StageResult

NAME = "collect"
UPSTREAM: tuple[str, ...] = ()


class ToyParams(StageParams):
    repeat: int = Field(1, description="How many times to repeat the text.")
    label: str = Field("x", description="A label.")


Params = ToyParams
calls: list[dict] = []


def run(ctx: StageContext) -> StageResult:
    calls.append(dict(ctx.extra))
    text = ctx.extra.get("text", "") * ctx.params.repeat
    (ctx.out_dir / "out.txt").write_text(text)
    if ctx.extra.get("sleep"):
        (ctx.out_dir / "partial.txt").write_text("half")
        time.sleep(ctx.extra["sleep"])
    if ctx.extra.get("fail"):
        raise RuntimeError("boom")
    return StageResult(metrics={"chars": len(text)}, summary={"chars": len(text)})


def render(summary, console) -> None:
    console.print(f"chars: {summary['chars']}")
