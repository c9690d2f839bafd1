"""Background jobs: the runner and the job functions."""
