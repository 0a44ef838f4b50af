"""The router: assign a call to a cluster, serve promoted clusters with their SLM, escalate the rest.

Public API: Router, RouteDecision, ServedCall, RouterConfig, ClusterRoute, EscalationRules,
Generation, PeftGenerator, CachedGenerator, replay, ReplayResult.
"""

from slmconvert.router.config import ClusterRoute, EscalationRules, RouterConfig
from slmconvert.router.generator import CachedGenerator, Generation, PeftGenerator
from slmconvert.router.router import RouteDecision, Router, ServedCall

__all__ = [
    "CachedGenerator", "ClusterRoute", "EscalationRules", "Generation", "PeftGenerator",
    "RouteDecision", "Router", "RouterConfig", "ServedCall",
]
