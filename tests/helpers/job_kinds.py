"""Job functions for the job tests: a counted loop that reports progress, and one that fails."""
import logging
import time

log = logging.getLogger(__name__)


def count(store, args, progress):
    total = args["total"]
    for done in range(total + 1):
        progress(done, total, f"item {done}")
        time.sleep(args.get("sleep", 0.0))
    log.info("counted to %d", total)
    return {"counted": total}


def fail(store, args, progress):
    progress(1, 3, "about to fail")
    raise ValueError(f"bad value {args['value']!r}")


def environment(store, args, progress):
    """Logs the environment variables named in args["names"], as the job's own process sees them."""
    import os

    for name in args["names"]:
        log.info("%s=%s", name, os.environ.get(name))


def load_model(store, args, progress):
    from hallu_core.modeling.models import load_model as load

    load(args["location"])
    progress(1, 1, "loaded")


def demo_detectors(store, args, progress):
    from hallu_core.demo.demo_report import run_detectors

    return run_detectors(store, args["run_id"], args["detectors"], progress)


def log_steps(store, args, progress):
    for step in range(1, args["steps"] + 1):
        log.info("step %d", step)
        progress(step, args["steps"], f"step {step}")
