"""Parameters of the cluster stage (defaults < --config < --set < flags)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from slmconvert.engine.params import EngineParams
from slmconvert.params import seed_field


class ClusterParams(EngineParams):
    """How calls are signed, embedded, clustered, labelled, split and gated for the router."""

    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model id or local path; all-MiniLM-L6-v2 is the packaged offline copy.",
    )
    batch_size: int = Field(64, ge=1, description="Texts per embedding batch.")
    max_seq_length: int = Field(
        128, ge=16, le=512, description="Token limit per embedded signature part (parts put the telling words first)."
    )
    system_words: int = Field(40, ge=0, description="Words of the masked system prompt in a signature.")
    request_words: int = Field(32, ge=1, description="Words of the masked last user message (else last tool result) in a signature.")
    max_listed_tools: int = Field(30, ge=1, description="Tool names listed in a signature; larger sets add a hash of the set.")
    request_weight: float = Field(
        0.4, ge=0.0, le=1.0,
        description="Similarity weight of the request (last user/tool message); the context (system prompt, tools, schema) gets the rest.",
    )
    structure_weight: float = Field(
        0.2, ge=0.0, le=1.0,
        description="Similarity weight of the requested output form (tool use, JSON, text) as a one-hot feature.",
    )
    n_components: int = Field(16, ge=2, le=256, description="PCA dimensions before clustering.")
    min_cluster_size: int | None = Field(
        None, ge=2,
        description="Smallest task worth its own SLM, in calls; default 1% of calls (at least 20, at most 1000).",
    )
    min_samples: int | None = Field(
        None, ge=1, description="HDBSCAN min_samples (higher = more calls left as noise); default from min_cluster_size."
    )
    cluster_selection: Literal["eom", "leaf"] = Field(
        "eom", description="HDBSCAN cluster selection: eom (fewer, larger tasks) or leaf (finer tasks)."
    )
    merge_similarity: float = Field(
        0.6, ge=-1.0, le=1.0,
        description=(
            "HDBSCAN splits a group only if its parts' calls are on average less similar than this "
            "(mean pairwise cosine across the parts, full signature space); higher gives finer tasks."
        ),
    )
    max_cluster_points: int = Field(
        20000, ge=100, description="Distinct signatures HDBSCAN is fitted on; the rest are placed with approximate_predict."
    )
    seed: int = seed_field("Seed for sampling and splits")
    validation_fraction: float = Field(0.1, ge=0.0, lt=0.5, description="Share of each cluster's request groups for validation.")
    test_fraction: float = Field(0.1, ge=0.0, lt=0.5, description="Share of each cluster's request groups for test.")
    test_min_calls: int = Field(
        100, ge=0, description=(
            "Test calls a cluster holds out at least, as far as test_max_fraction allows: the held-out split is "
            "the evidence for promotion. At the default 0.90 target a perfect score on fewer than 35 calls "
            "cannot pass (Wilson lower bound), while 100 calls allow 4 misses (0 = test_fraction only)."
        ),
    )
    test_max_fraction: float = Field(
        0.25, ge=0.0, lt=0.5, description="Upper bound on a cluster's test share when test_min_calls raises it."
    )
    member_outlier_z: float = Field(
        3.5, gt=0.0,
        description="Members whose full-space similarity to their centroid is this many robust z-scores below the median become noise.",
    )
    threshold_percentile: float = Field(
        2.0, ge=0.0, le=50.0, description=(
            "Router gate: a cluster accepts a new call whose similarity to its centroid reaches this "
            "percentile of its members' similarities minus threshold_margin."
        ),
    )
    threshold_margin: float = Field(0.05, ge=0.0, le=1.0, description="Router gate: margin subtracted from the percentile.")
    min_examples: int = Field(50, ge=1, description="Candidate rule: calls a cluster needs to be a conversion candidate.")
    min_output_consistency: float = Field(
        0.9, ge=0.0, le=1.0, description=(
            "Candidate rule: share of the cluster's calls with its dominant output type (tool call and "
            "text count as one when the calls offer tools: choosing between them is the agent's task)."
        ),
    )
    open_ended_min_tokens: int = Field(
        100, ge=1,
        description="Candidate rule: a text cluster is open-ended if its mean completion is this long and its outputs novel (next).",
    )
    open_ended_min_novelty: float = Field(
        0.6, ge=0.0, le=1.0,
        description="Candidate rule: mean share of output words found nowhere in the request from which long text is open-ended.",
    )
    top_keywords: int = Field(8, ge=1, description="Keywords per cluster label (class-based TF-IDF).")
    map_points: int = Field(
        600, ge=10, le=5000, description="Signatures drawn on the 2-D cluster map (seeded, call-weighted sample; exact t-SNE)."
    )

    @model_validator(mode="after")
    def _weights_fit(self) -> ClusterParams:
        if self.request_weight + self.structure_weight > 1.0:
            raise ValueError("request_weight + structure_weight must be at most 1 (the context gets the rest)")
        return self
