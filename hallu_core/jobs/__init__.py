"""Background jobs: the runner that starts a detached process per job and keeps its state in the store,
and the job functions it runs (import, demo, finetune, distill, generate, detect, ...).

May import: every room below it (`store` up to `demo`); only `cli`, `ui` and pages import it.
"""
