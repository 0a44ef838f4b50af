"""Above the stages: run-all, the weekly loop and the dry-run plan, each running stages through the runner."""
