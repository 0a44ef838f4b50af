"""`slmconvert serve` as a user runs it: a real process, SIGTERM while a request is in flight
(the request still gets its answer and its log line), and usage errors."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.serve.harness import FakeLLM, free_port

pytestmark = pytest.mark.timeout(90)
SLMCONVERT = [sys.executable, "-m", "slmconvert"]


def test_sigterm_drains_the_request_in_flight(tmp_path):
    llm = FakeLLM(delay_s=1.5)
    llm_port, port = free_port(), free_port()
    upstream = llm.server(llm_port).start()
    work = tmp_path / "work"
    env = {**os.environ, "OPENAI_API_KEY": "sk-canary-never-printed", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [*SLMCONVERT, "serve", "--workdir", str(work), "--llm-base-url", f"http://127.0.0.1:{llm_port}/v1",
         "--port", str(port), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            time.sleep(0.1)
        result: dict = {}

        def call() -> None:
            result["response"] = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=30, json={
                "model": "gpt-test", "messages": [{"role": "user", "content": "secret-body-canary please"}]})

        thread = threading.Thread(target=call)
        thread.start()
        while not llm.requests:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        thread.join(30)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        upstream.stop()
    assert proc.returncode == 0, err.decode()
    response = result["response"]
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"].startswith("LLM says")
    assert response.headers["x-slmconvert-route"] == "llm"
    summary = json.loads(out)
    assert summary["ok"] and summary["requests"] == 1 and len(summary["traffic_files"]) == 1
    lines = gzip.decompress(Path(summary["traffic_files"][0]).read_bytes()).splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["response"]["id"] == "chatcmpl-upstream"
    console = (out + err).decode()
    assert "canary" not in console  # neither the upstream key nor a request body reaches the console
    assert "no iterate version yet" in console


def test_usage_errors(tmp_path):
    run = subprocess.run([*SLMCONVERT, "serve", "--workdir", str(tmp_path), "--llm-base-url", "api.example.com",
                          "--json"], capture_output=True, timeout=60, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 2 and "http(s) URL" in json.loads(run.stdout)["error"]
    run = subprocess.run([*SLMCONVERT, "serve", "--workdir", str(tmp_path), "--llm-base-url", "http://x/v1",
                          "--router", str(tmp_path / "nowhere"), "--json"], capture_output=True, timeout=60,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 5 and "not a router directory" in json.loads(run.stdout)["error"]
