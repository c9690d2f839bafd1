"""The `hallu` command line: the click group (`main`) and its commands, one module per kind of work
(workspace, models, detectors), sharing the --workspace option and progress bars (`common`).

May import: every room but `ui`; nothing imports it.
"""
