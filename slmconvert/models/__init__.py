"""Models: the registry of aliases, loading (with the converted-weights cache), model facts,
and the prompt format shared by every stage.

Public API (stable; import from here):
    resolve_model, register_model, unregister_model, ModelSpec, ResolvedModel, DEFAULT_CANDIDATES
    load_model, load_tokenizer, model_path, quantization_config, LoadedModel
    model_info, list_models, ModelInfo
    PromptFormat, ParsedOutput, render_prompt, render_completion, parse_completion,
    render_record_prompt, render_record_completion, record_output, supports_native_tools
    stop_token_ids, end_of_turn
"""

from slmconvert.models.chat import end_of_turn, stop_token_ids
from slmconvert.models.info import ModelInfo, list_models, model_info
from slmconvert.models.loading import (
    LoadedModel,
    load_model,
    load_tokenizer,
    model_path,
    quantization_config,
)
from slmconvert.models.prompt import (
    ParsedOutput,
    PromptFormat,
    parse_completion,
    record_output,
    render_completion,
    render_prompt,
    render_record_completion,
    render_record_prompt,
    supports_native_tools,
)
from slmconvert.models.registry import (
    DEFAULT_CANDIDATES,
    ModelSpec,
    ResolvedModel,
    register_model,
    resolve_model,
    unregister_model,
)

__all__ = [
    "DEFAULT_CANDIDATES", "LoadedModel", "ModelInfo", "ModelSpec", "ParsedOutput", "PromptFormat",
    "ResolvedModel", "end_of_turn", "list_models", "load_model", "load_tokenizer", "model_info",
    "model_path", "parse_completion", "quantization_config", "record_output", "register_model",
    "render_completion", "render_prompt", "render_record_completion", "render_record_prompt",
    "resolve_model", "stop_token_ids", "supports_native_tools", "unregister_model",
]
