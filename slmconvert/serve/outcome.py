"""What happened to one request: the router's decision, the final route, and any escalation.
It travels as response headers and as the `metadata` of the traffic-log line."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ROUTE_HEADER = "x-slmconvert-route"
CLUSTER_HEADER = "x-slmconvert-cluster"
ESCALATION_HEADER = "x-slmconvert-escalation"
VERSION_HEADER = "x-slmconvert-router-version"
OVERHEAD_HEADER = "x-slmconvert-overhead-ms"
# serve-only escalation reasons (the router's own are in slmconvert.router.escalation.REASONS)
SLM_ERROR = "slm_error"
SLM_TIMEOUT = "slm_timeout"


@dataclass
class Outcome:
    decided: str = "llm"  # the router's decision before any answer: slm | llm
    reason: str | None = None  # why it decided so
    cluster_id: int = -1
    assign_confidence: float | None = None
    router_version: str | None = None
    slm_model: str | None = None
    escalation: str | None = None
    escalation_detail: str | None = None
    slm_confidence: float | None = None
    overhead_ms: float = 0.0
    slm_ms: float | None = None
    upstream_attempts: int = 0

    @property
    def route(self) -> str:
        """Who answered: the SLM only when it was chosen and its answer passed every check."""
        return "slm" if self.decided == "slm" and self.escalation is None else "llm"

    def headers(self) -> dict[str, str]:
        """Response headers (no detail text: it may quote the request)."""
        return {
            ROUTE_HEADER: self.route,
            CLUSTER_HEADER: str(self.cluster_id),
            ESCALATION_HEADER: self.escalation or "none",
            VERSION_HEADER: self.router_version or "none",
            OVERHEAD_HEADER: f"{self.overhead_ms:.3f}",
        }

    def metadata(self) -> dict[str, Any]:
        return {**asdict(self), "route": self.route, "escalated": self.escalation is not None}
