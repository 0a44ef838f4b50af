"""Fine-tuning: a LoRA/QLoRA specialist per task cluster with trl's SFTTrainer and peft.

Modules (import the heavy ones lazily; this package import stays light):
    params    FinetuneParams (the stage's parameters)
    records   each cluster's curated train/validation calls (curate + cluster artifacts)
    data      rendering with the shared prompt format, completion-only labels, length limits,
              context distillation
    budget    TrainPlan: method, precision and hyperparameters scaled to the data and device
    modeling  loading the base model for LoRA / QLoRA, the LoRA configuration
    trainer   SpecialistTrainer (SFTTrainer + task-metric validation, length-grouped batches)
    run       train_cluster(): cached, resumable training of one cluster, written to a version dir
    outputs, card, progress   adapter checks, model card, curves, progress bar
"""
