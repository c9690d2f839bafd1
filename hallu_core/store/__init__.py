"""The workspace database, its schema and summary tables, the records, path confinement."""
