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
