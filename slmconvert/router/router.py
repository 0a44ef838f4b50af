"""The router: which model answers a call, and when an SLM answer goes back to the LLM.

    router = Router.load("work/iterate/LATEST/router")
    decision = router.route(call)          # RouteDecision(cluster_id, confidence, route, model, adapter, reason)
    served = router.serve([call, ...], generator)   # + SLM answers and serve-time escalation

Calls must already be scrubbed by curate's scrubber (the clusters were built on scrubbed data,
and nothing raw may be logged); `slmconvert route` does that for raw logs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from slmconvert.models.prompt import ParsedOutput, PromptFormat, parse_completion
from slmconvert.router import escalation
from slmconvert.router.confidence import confidence
from slmconvert.router.config import SEED_DIR, ClusterRoute, RouterConfig, resolve_from_router
from slmconvert.router.generator import Generation, Generator


class Assigner(Protocol):
    """Anything that maps calls to (cluster_id, confidence); -1 = outside every cluster."""

    def assign(self, records: list[dict]) -> list[tuple[int, float]]: ...


@dataclass(frozen=True)
class RouteDecision:
    """Where a call goes before any answer exists."""

    cluster_id: int
    confidence: float
    route: str  # "slm" | "llm"
    model: str | None
    adapter: str | None
    reason: str
    call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ServedCall:
    """A routed call after the SLM answered (if it was asked) and escalation was checked."""

    decision: RouteDecision
    generation: Generation | None = None
    parsed: ParsedOutput | None = None
    score: float | None = None
    escalation: str | None = None
    detail: str | None = None

    @property
    def escalated(self) -> bool:
        return self.escalation is not None

    @property
    def final_route(self) -> str:
        return "slm" if self.decision.route == "slm" and not self.escalated else "llm"

    @property
    def output(self) -> dict[str, Any] | None:
        return self.parsed.to_message() if self.parsed is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.decision.to_dict(),
            "final_route": self.final_route,
            "escalated": self.escalated,
            "escalation": self.escalation,
            "escalation_detail": self.detail,
            "slm_confidence": self.score,
            "slm_output": self.output,
        }


class Router:
    """A loaded router directory (router.json + seed/)."""

    def __init__(self, config: RouterConfig, directory: Path, assigner: Assigner | None = None,
                 embedding_cache: Path | None = None) -> None:
        self.config = config
        self.directory = Path(directory)
        self._assigner = assigner
        self.embedding_cache = embedding_cache

    @classmethod
    def load(cls, directory: str | Path, assigner: Assigner | None = None,
             embedding_cache: Path | None = None) -> Router:
        """Load a router written by the iterate stage (or an exported bundle's router/).

        embedding_cache: a workspace's embedding cache directory, to reuse signature embeddings.
        """
        directory = Path(directory)
        return cls(RouterConfig.load(directory), directory, assigner, embedding_cache)

    @property
    def assigner(self) -> Assigner:
        if self._assigner is None:
            from slmconvert.router.embedding import cached_assigner

            self._assigner = cached_assigner(self.directory / SEED_DIR, self.embedding_cache)
        return self._assigner

    def adapter_path(self, route: ClusterRoute) -> Path | None:
        return resolve_from_router(self.directory, route.adapter)

    # -- routing ---------------------------------------------------------------------------
    def decide(self, cluster_id: int, confidence_value: float, call_id: str | None = None) -> RouteDecision:
        """The decision for an already-assigned call."""
        if cluster_id < 0:
            return RouteDecision(cluster_id, confidence_value, "llm", None, None,
                                 "outside every known cluster", call_id)
        route = self.config.route_for(cluster_id)
        if route is None:
            return RouteDecision(cluster_id, confidence_value, "llm", None, None,
                                 f"cluster {cluster_id} has no route in this router", call_id)
        if not route.promoted:
            return RouteDecision(cluster_id, confidence_value, "llm", None, None, route.reason, call_id)
        adapter = self.adapter_path(route)
        return RouteDecision(cluster_id, confidence_value, "slm", route.model,
                             str(adapter) if adapter else None, f"cluster {cluster_id} promoted ({route.label})",
                             call_id)

    def route_many(self, calls: Sequence[dict[str, Any]]) -> list[RouteDecision]:
        """Decisions for many calls (one batched cluster assignment)."""
        assigned = self.assigner.assign(list(calls)) if calls else []
        return [self.decide(int(cid), float(conf), call.get("call_id"))
                for call, (cid, conf) in zip(calls, assigned, strict=True)]

    def route(self, call: dict[str, Any]) -> RouteDecision:
        """The decision for one call."""
        return self.route_many([call])[0]

    # -- serving ---------------------------------------------------------------------------
    def check(self, route: ClusterRoute, call: dict[str, Any], generation: Generation) -> ServedCall:
        """Parse an SLM answer and apply the escalation rules (decision filled in by the caller)."""
        fmt = PromptFormat.from_dict(route.prompt_format) if route.prompt_format else PromptFormat()
        parsed = parse_completion(generation.text, fmt)
        measure = route.confidence_measure or self.config.escalation.confidence_measure
        score = confidence(generation.text, generation.logprobs, generation.ends, measure, bool(parsed.tool_calls))
        failed = escalation.check(parsed, call, self.config.escalation, score, route.confidence_threshold)
        served = ServedCall(decision=None, generation=generation, parsed=parsed, score=score)  # type: ignore[arg-type]
        if failed is not None:
            served.escalation, served.detail = failed
        return served

    def serve(
        self,
        calls: Sequence[dict[str, Any]],
        generator: Generator,
        decisions: Sequence[RouteDecision] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[ServedCall]:
        """Route, let each promoted cluster's SLM answer its calls, and escalate where the checks fail."""
        decisions = list(decisions) if decisions is not None else self.route_many(calls)
        served: list[ServedCall | None] = [None] * len(calls)
        by_cluster: dict[int, list[int]] = {}
        for i, decision in enumerate(decisions):
            if decision.route == "slm":
                by_cluster.setdefault(decision.cluster_id, []).append(i)
            else:
                served[i] = ServedCall(decision)
                if progress is not None:
                    progress(1)
        for cid, indices in sorted(by_cluster.items()):
            route = self.config.route_for(cid)
            assert route is not None and route.model is not None
            fmt = PromptFormat.from_dict(route.prompt_format) if route.prompt_format else PromptFormat()
            generations = generator.generate(route.model, self.adapter_path(route), fmt,
                                             [calls[i] for i in indices], route.max_new_tokens, progress)
            for i, generation in zip(indices, generations, strict=True):
                result = self.check(route, calls[i], generation)
                result.decision = decisions[i]
                served[i] = result
        return [s for s in served if s is not None]
