"""Error types shared across modules, in a module that imports nothing.

Catching ModelLoadError loads no torch; JobCancelled is one class even in the job process,
which runs hallu_core.jobs.runner as `__main__` (a class defined there would be a second one)."""


class ModelLoadError(RuntimeError):
    """A model or tokenizer that cannot be loaded, with the location that failed."""


class JobCancelled(BaseException):
    """Raised in a job's process when it is cancelled (the SIGTERM that `cancel_job` sends).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on the way (a detector
    skipped, a log write, a model load turned into ModelLoadError) can swallow a cancel."""
