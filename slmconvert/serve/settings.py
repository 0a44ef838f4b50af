"""What one `slmconvert serve` process is configured with (flags, plus keys read from the environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LLM_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_CLIENT_KEY_ENV = "SLMCONVERT_SERVE_API_KEY"
DEFAULT_SLM_KEY_ENV = "SLMCONVERT_SLM_API_KEY"
TRAFFIC_DIR = "served"  # under the workspace root: raw call logs, owner-only


@dataclass
class ServeSettings:
    """Gateway settings. Keys are never stored here as flags: only the names of the variables that hold them."""

    workdir: Path
    llm_base_url: str
    slm_base_url: str | None = None
    router_dir: Path | None = None  # pinned router directory: no hot swap
    host: str = "127.0.0.1"
    port: int = 8080
    llm_key_env: str = DEFAULT_LLM_KEY_ENV
    client_key_env: str = DEFAULT_CLIENT_KEY_ENV
    slm_key_env: str = DEFAULT_SLM_KEY_ENV
    llm_timeout_s: float = 120.0
    llm_retries: int = 3
    retry_backoff_s: float = 0.5
    retry_backoff_max_s: float = 8.0
    slm_timeout_s: float = 30.0
    slm_batch_size: int = 8
    device: str = "auto"
    log_traffic: bool = True
    log_dir: Path | None = None
    rotate_seconds: float = 3600.0
    rotate_bytes: int = 256 << 20
    reload_seconds: float = 5.0
    drain_seconds: float = 30.0
    access_log: bool = False

    @property
    def traffic_dir(self) -> Path:
        return Path(self.log_dir) if self.log_dir is not None else Path(self.workdir) / TRAFFIC_DIR

    def llm_key(self) -> str | None:
        """The upstream key, read when needed (never logged, never echoed)."""
        return os.environ.get(self.llm_key_env) or None

    def slm_key(self) -> str | None:
        """The key of the remote SLM server (vLLM --api-key), when it has one."""
        return os.environ.get(self.slm_key_env) or None

    def client_key(self) -> str | None:
        """The bearer key clients must send, when one is set."""
        return os.environ.get(self.client_key_env) or None
