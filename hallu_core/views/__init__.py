"""What the dashboard shows: read-side queries, compare, judges, findings, HTML rendering."""
