"""`slmconvert serve`: an OpenAI-compatible gateway in front of an agent. Each chat completion is
routed by the iterate stage's router: a promoted cluster's SLM answers when its answer passes the
escalation checks, everything else goes to the upstream LLM unchanged. Served calls are logged
for the weekly loop, and a new router version is picked up without a restart.

Public API: ServeSettings, build_gateway, create_app, server, RemoteSlmGenerator.
"""

from slmconvert.serve.app import build_gateway, create_app, server
from slmconvert.serve.remote_slm import RemoteSlmGenerator
from slmconvert.serve.settings import ServeSettings

__all__ = ["RemoteSlmGenerator", "ServeSettings", "build_gateway", "create_app", "server"]
