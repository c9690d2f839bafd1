"""Data in and out of a workspace: import, export and validation of files (JSONL, CSV, Parquet),
prompt templates, the embedded default workspace and the synthetic workspace builder for tests.

May import: `store`.
"""
