"""Data in and out of a workspace: import, export, validation, prompts, the default and synthetic workspaces."""
