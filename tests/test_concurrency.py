"""Several processes writing labels into one workspace at once lose nothing."""
import multiprocessing as mp

from hallu_core.store.database import Store
from hallu_core.store.types import Checkpoint, Example, Generation, Label, Run, Span

N_GENERATIONS = 40


def annotate(root, annotator, rounds):
    store = Store(root, timeout=120)
    ids = [g.id for g in store.generations()]
    for r in range(rounds):
        for i, gid in enumerate(ids):
            # every round rewrites the label: the last write must win, nothing duplicated
            store.save_label(Label(gid, annotator, [Span(0, 1 + (i + r) % 5, "baseless", note=f"round {r}")]))
    store.close()


def test_four_processes_writing_labels_lose_nothing(tmp_path):
    store = Store(tmp_path / "ws")
    store.add_examples([Example("e", "d", "prompt")])
    store.add_run(Run("r", "run", "base"))
    store.add_checkpoint(Checkpoint("c", "r", 0, "base"))
    store.add_generations([Generation(f"g{i}", "e", "c", "hello world") for i in range(N_GENERATIONS)])

    annotators = [f"annotator-{k}" for k in range(4)]
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=annotate, args=(str(store.root), name, 3)) for name in annotators]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * 4

    labels = store.labels()
    assert len(labels) == 4 * N_GENERATIONS
    assert {(label.generation_id, label.annotator) for label in labels} == \
           {(f"g{i}", a) for i in range(N_GENERATIONS) for a in annotators}
    assert all(label.spans[0].note == "round 2" for label in labels)
    assert all(label.updated_at >= label.created_at for label in labels)
