"""The `hallu` command line."""
