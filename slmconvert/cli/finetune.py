"""`slmconvert finetune`: train a LoRA/QLoRA specialist per selected cluster."""

from typing import Annotated

import typer

from slmconvert.cli.common import CommonOptions, command, run_stage_command


def register(app: typer.Typer) -> None:
    @command(app, "finetune", help="Fine-tune a LoRA/QLoRA adapter per selected cluster (trl SFTTrainer + peft), "
             "with validation on the task metric, checkpoints and a model card.")
    def finetune(
        opts: CommonOptions,
        cluster: Annotated[list[int] | None, typer.Option(
            "--cluster", help="Train only this cluster id (repeatable); default: every cluster select chose a model for.")] = None,
        method: Annotated[str | None, typer.Option(
            "--method", help="auto, lora or qlora (auto: QLoRA on a GPU for models >= 1B, else LoRA).")] = None,
        base_model: Annotated[str | None, typer.Option(
            "--base-model", help="Train on this model instead of select's choice (alias, path or HF id).")] = None,
        device: Annotated[str | None, typer.Option("--device", help="auto, cpu or cuda.")] = None,
        merge: Annotated[bool | None, typer.Option(
            "--merge/--no-merge", help="Also write the base model with the adapter merged in.")] = None,
        budget: Annotated[str | None, typer.Option(
            "--budget", help="Wall-clock budget of training plus the held-out evaluation iterate will run "
            "(e.g. 90s, 15m, 2h; default finetune.budget).")] = None,
    ) -> int:
        from slmconvert.pipeline.budget import evidence_from_config

        flags = {"method": method, "base_model": base_model, "device": device, "merge": merge, "budget": budget}
        extra: dict = {"clusters": sorted(set(cluster))} if cluster else {}
        extra["evidence"] = evidence_from_config(opts.config, opts.sets, "finetune")
        run_stage_command("finetune", opts, flags={k: v for k, v in flags.items() if v is not None}, extra=extra)
        return 0
