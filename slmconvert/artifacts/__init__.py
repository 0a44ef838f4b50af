"""One module per artifact that crosses a stage boundary: its file names and its record shape, shared
by the stage that writes it and the stages that read it."""
