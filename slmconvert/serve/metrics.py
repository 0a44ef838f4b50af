"""Prometheus text metrics, kept by hand (a few counters and histograms; no client library needed)."""

from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)

Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.n += 1


class Metrics:
    """Counters and histograms by label set, rendered in the Prometheus text exposition format."""

    HELP = {
        "slmconvert_requests_total": ("counter", "Chat-completion requests answered, by final route and cluster."),
        "slmconvert_escalations_total": ("counter", "SLM answers sent back to the LLM, by reason and cluster."),
        "slmconvert_upstream_retries_total": ("counter", "Upstream LLM attempts retried, by cause."),
        "slmconvert_upstream_errors_total": ("counter", "Upstream LLM errors returned to clients, by status."),
        "slmconvert_slm_tokens_total": ("counter", "Tokens the SLMs read and wrote, by kind."),
        "slmconvert_router_swaps_total": ("counter", "New router versions picked up without a restart."),
        "slmconvert_traffic_log_errors_total": ("counter", "Traffic-log lines that could not be written."),
        "slmconvert_request_seconds": ("histogram", "Whole-request latency, by final route."),
        "slmconvert_router_overhead_seconds": ("histogram", "Routing overhead per request (assignment + checks)."),
        "slmconvert_in_flight_requests": ("gauge", "Requests being answered now."),
    }

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._histograms: dict[str, dict[Labels, Histogram]] = defaultdict(dict)
        self._gauges: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))

    def inc(self, name: str, value: float = 1.0, **labels: object) -> None:
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        with self._lock:
            self._counters[name][key] += value

    def gauge(self, name: str, delta: float, **labels: object) -> None:
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        with self._lock:
            self._gauges[name][key] += delta

    def observe(self, name: str, value: float, **labels: object) -> None:
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        buckets = OVERHEAD_BUCKETS if name.endswith("overhead_seconds") else LATENCY_BUCKETS
        with self._lock:
            self._histograms[name].setdefault(key, Histogram(buckets)).observe(value)

    def value(self, name: str, **labels: object) -> float:
        """A counter's current value (tests and the benchmark read it)."""
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        with self._lock:
            return self._counters.get(name, {}).get(key, 0.0)

    def totals(self, name: str, label: str) -> dict[str, float]:
        """A counter summed by one label (e.g. requests by route)."""
        out: dict[str, float] = defaultdict(float)
        with self._lock:
            for labels, value in self._counters.get(name, {}).items():
                out[dict(labels).get(label, "")] += value
        return dict(out)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name, (kind, text) in self.HELP.items():
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                if kind == "histogram":
                    for labels, h in sorted(self._histograms.get(name, {}).items()):
                        for bound, count in zip(h.buckets, h.counts):
                            lines.append(f"{name}_bucket{_labels(labels + (('le', repr(bound)),))} {count}")
                        lines.append(f"{name}_bucket{_labels(labels + (('le', '+Inf'),))} {h.n}")
                        lines.append(f"{name}_sum{_labels(labels)} {h.total!r}")
                        lines.append(f"{name}_count{_labels(labels)} {h.n}")
                    continue
                source = self._gauges if kind == "gauge" else self._counters
                for labels, value in sorted(source.get(name, {}).items()):
                    lines.append(f"{name}{_labels(labels)} {_number(value)}")
        return "\n".join(lines) + "\n"
