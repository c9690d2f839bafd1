"""The learned `span` detector on a tiny BERT and a WordPiece tokenizer trained in-process."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

from hallu_core.detection.detectors import DetectItem  # noqa: E402
from hallu_core.store.types import Span  # noqa: E402
from hallu_core.detection.detectors.span import SpanDetector  # noqa: E402
from hallu_core.detection.detectors.span_model import combine, encode, token_runs, window_starts  # noqa: E402
from hallu_core.detection.detectors.span_train import TrainConfig, TrainExample, train  # noqa: E402

CORPUS = ["Paris is the capital of France.", "Berlin is the capital of Germany.", "Zoë Müller lives in Zürich.",
          "The café opened in 1998 and serves crêpes.", "Rome was founded in 753 BC by Romulus.",
          "Question: where is the capital? Passages: none", "key: value true false null 42"] * 5
TINY_LORA = {"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": ["query", "value"]}


def tiny_backbone(path):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(
        vocab_size=120, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    cfg = transformers.BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)
    torch.manual_seed(0)
    transformers.BertModel(cfg).save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    return tiny_backbone(tmp_path_factory.mktemp("tiny-bert"))


def examples():
    ctx = "Paris is the capital of France."
    return [TrainExample(ctx, "Paris is the capital of Germany.", ((24, 31),)),
            TrainExample(ctx, "Paris is the capital of France.", ()),
            TrainExample("Rome was founded in 753 BC.", "Rome was founded in 1998 BC by Romulus.", ((20, 24), (28, 38)))] * 4


@pytest.fixture(scope="module")
def trained(backbone, tmp_path_factory):
    cfg = TrainConfig(backbone=backbone, max_length=64, overlap=8, epochs=3, lr=5e-3, batch_size=4, lora=TINY_LORA)
    folder = tmp_path_factory.mktemp("epochs")
    result = train(examples(), cfg, epoch_dir=folder)
    return result, folder


def test_windows_cover_the_context_with_the_promised_overlap():
    starts = window_starts(100, 30, 10)
    assert starts[0] == 0 and starts[-1] == 70  # the last window ends at the context's end
    covered = set()
    for a, b in zip(starts, starts[1:]):
        assert a + 30 - b >= 10  # consecutive windows share at least `overlap` tokens
    for s in starts:
        covered |= set(range(s, s + 30))
    assert covered == set(range(100))
    assert window_starts(20, 30, 10) == [0]


def test_long_source_is_read_in_windows_each_with_the_whole_output(backbone):
    tok = transformers.AutoTokenizer.from_pretrained(backbone)
    context = " ".join(["Berlin is the capital of Germany."] * 40)
    output = "Zoë Müller lives in Zürich."
    enc = encode(tok, context, output, max_length=48, overlap=8)
    n_out = len(enc.offsets)
    assert len(enc.windows) > 3
    for w in enc.windows:
        assert len(w.input_ids) <= 48 and w.n_out == n_out and w.out_first == 0
        assert w.input_ids[w.out_pos:w.out_pos + n_out] == tok(output, add_special_tokens=False)["input_ids"]
    assert {tuple(w.input_ids[1:w.out_pos - 1]) for w in enc.windows}  # each window a slice of the context
    seen = [t for w in enc.windows for t in w.input_ids[1:w.out_pos - 1]]
    assert set(enc.context_ids) <= set(seen)


def test_window_scores_combine_by_min_and_mean():
    per_window = [(0, np.array([0.9, 0.2, 0.8])), (0, np.array([0.1, 0.6, 0.7])), (1, np.array([0.3]))]
    assert combine(per_window, 4, "min").tolist() == pytest.approx([0.1, 0.2, 0.7, 0.0])
    assert combine(per_window, 4, "mean").tolist() == pytest.approx([0.5, (0.2 + 0.6 + 0.3) / 3, 0.75, 0.0])
    with pytest.raises(ValueError, match="min"):
        combine(per_window, 4, "max")


def test_unicode_offsets_are_exact_and_spans_never_cut_a_word(backbone):
    import unicodedata

    tok = transformers.AutoTokenizer.from_pretrained(backbone)
    output = "Zoë Müller lives in Zürich; café crêpes."
    enc = encode(tok, "", output, max_length=64, overlap=8)
    pieces = tok.convert_ids_to_tokens(tok(output, add_special_tokens=False)["input_ids"])
    for (s, e), piece in zip(enc.offsets, pieces):  # offsets point at the token's own original characters
        plain = "".join(c for c in unicodedata.normalize("NFD", output[s:e].lower()) if not unicodedata.combining(c))
        assert piece == "[UNK]" or plain == piece.removeprefix("##")
    at = output.index("Zürich")
    inside = [i for i, (s, e) in enumerate(enc.offsets) if at <= s and e <= at + len("Zürich")]
    probs = np.zeros(len(enc.offsets))
    probs[inside[-1]] = 0.9  # one word piece of "Zürich" flagged: the span is the whole word
    assert [(output[s:e], p) for s, e, p in token_runs(output, enc.offsets, probs, 0.5)] == [("Zürich", 0.9)]
    probs[:] = 0.0
    probs[[i for i, (s, e) in enumerate(enc.offsets) if output[s:e] in ("café", "cafe") or s >= output.index("café")]] = 0.7
    assert [output[s:e] for s, e, _ in token_runs(output, enc.offsets, probs, 0.5)] == ["café crêpes"]


def test_training_changes_weights_and_learns_the_planted_spans(trained, backbone):
    result, folder = trained
    assert result.losses[-1] < result.losses[0]
    fresh = train(examples()[:1], TrainConfig(backbone=backbone, max_length=64, epochs=1, lr=0.0, lora=TINY_LORA))
    moved = [k for k in result.state if not torch.equal(result.state[k], fresh.state[k])]
    assert any("lora_B" in k for k in moved) and any("classifier" in k for k in moved)


def test_saved_and_reloaded_detector_gives_identical_scores(trained, tmp_path):
    from hallu_core.detection.detectors.span_train import write_artifact

    result, folder = trained
    item = DetectItem("a", "Paris is the capital of Germany.", source="Paris is the capital of France.", task="QA")
    first = SpanDetector(pretrained=str(write_artifact(tmp_path / "a", result.state, result.artifact)), quantize=False)
    again = SpanDetector(pretrained=str(write_artifact(tmp_path / "b", result.state, result.artifact)), quantize=False)
    [(off1, p1)], [(off2, p2)] = first.token_scores([item]), again.token_scores([item])
    assert off1 == off2 and np.array_equal(p1, p2)
    assert (folder / "epoch1" / "adapter.safetensors").exists() and (folder / "epoch3" / "span_config.json").exists()
    [r] = first.detect([item])
    assert 0.0 <= r.response_score <= 1.0
    assert all(item.output[s.start:s.end].strip() == item.output[s.start:s.end] for s in r.spans)


def test_fit_and_save_round_trip(backbone, tmp_path):
    det = SpanDetector(pretrained=None, model=backbone, max_length=64, quantize=False)
    items = [DetectItem(str(i), ex.output, source=ex.context) for i, ex in enumerate(examples())]
    golds = [[Span(s, e) for s, e in ex.spans] for ex in examples()]
    det.fit(items, golds)
    saved = det.save(tmp_path / "model")
    back = SpanDetector(pretrained=str(saved), model=backbone, quantize=False)
    a, b = det.token_scores(items[:2]), back.token_scores(items[:2])
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def test_cli_trains_a_detector_that_detect_file_then_uses(backbone, tmp_path):
    import json

    from click.testing import CliRunner

    from hallu_core.cli.main import main

    rows = [{"id": f"r{i}", "task_type": "QA", "source_id": f"s{i}", "question": "where is the capital?",
             "source": "Paris is the capital of France.", "response": out,
             "labels": [{"start": s, "end": e, "text": out[s:e], "label_type": "Evident Conflict"}] if s is not None else []}
            for i, (out, s, e) in enumerate([("Paris is the capital of Germany.", 24, 31),
                                             ("Paris is the capital of France.", None, None)] * 3)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "adapter"
    result = CliRunner().invoke(main, ["train-detector", "--data", str(data), "--from", "none", "--backbone", backbone,
                                       "--out", str(out), "--max-length", "64", "--synthetic", "4", "--lr", "0.005"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.rindex('{"out"'):].splitlines()[0])  # after the bar
    assert summary["examples"] >= 6 and (out / "adapter.safetensors").exists()
    preds = tmp_path / "p.jsonl"
    result = CliRunner().invoke(main, ["detect-file", str(data), "--detector", "span", "--model", str(out),
                                       "--out", str(preds)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [line["id"] for line in lines] == [r["id"] for r in rows]
    missing = CliRunner().invoke(main, ["train-detector", "--out", str(tmp_path / "x")])
    assert missing.exit_code != 0 and "--data" in missing.output


def test_default_routes_each_task_to_its_members_and_pools_their_spans(monkeypatch):
    from hallu_core.detection.detectors.base import DetectResult
    from hallu_core.detection.detectors.routed import PerTaskDefault

    class Fixed:
        def __init__(self, spans):
            self.spans, self.seen = spans, []

        def detect(self, items, progress=None):
            self.seen += [it.id for it in items]
            return [DetectResult([Span(*s) for s in self.spans], 0.7 if self.spans else 0.0) for _ in items]

    members = {"span": Fixed([(0, 5, "baseless", 0.7)]), "record": Fixed([(3, 8, "conflict", 0.9), (10, 12)]),
               "lexical": Fixed([]), "learned_builtin": Fixed([(1, 2)])}
    det = PerTaskDefault(routes={"QA": ["span"], "Data2txt": ["record", "span"], "": ["learned_builtin"]})  # lists: rule "spans"
    monkeypatch.setattr(det, "member", lambda name: members[name])
    items = [DetectItem("q", "x" * 20, task="QA"), DetectItem("d", "x" * 20, task="Data2txt"),
             DetectItem("b", "x" * 20, task="bio")]
    q, d, b = det.detect(items)
    assert [(s.start, s.end) for s in q.spans] == [(0, 5)]
    # the record's spans first; span's (0, 5) overlaps the record's (3, 8) and is dropped
    assert [(s.start, s.end) for s in d.spans] == [(3, 8), (10, 12)] and d.response_score == 0.7
    assert [(s.start, s.end) for s in b.spans] == [(1, 2)]
    assert members["span"].seen == ["q", "d"] and members["learned_builtin"].seen == ["b"]


def test_shipped_span_weights_are_small_and_give_word_aligned_spans():
    from hallu_core.detection.detectors import get_detector
    from hallu_core.detection.detectors.span_model import BUILTIN_SPAN

    assert (BUILTIN_SPAN / "adapter.safetensors").stat().st_size < 8_000_000  # an adapter, never the encoder
    det = get_detector("span")
    source = "Question: where does Zoë live?\n\nPassages:\n" + "Zoë Müller runs a café in Zürich since 2001. " * 60
    items = [DetectItem("u", "Zoë Müller has run a café in Zürich since 1998, and she owns three dogs.", source=source,
                        task="QA"), DetectItem("e", "", source=source, task="QA")]
    unicode_item, empty = det.detect(items)
    assert empty.spans == [] and empty.response_score == 0.0
    text = items[0].output
    for s in unicode_item.spans:
        assert 0 <= s.start < s.end <= len(text) and 0.0 <= s.score <= 1.0
        assert (s.start == 0 or not text[s.start - 1].isalnum()) and (s.end == len(text) or not text[s.end].isalnum())
    assert 0.0 <= unicode_item.response_score <= 1.0


def test_cli_trains_on_a_workspace_annotators_labels(backbone, tmp_path):
    import json

    from click.testing import CliRunner
    from helpers.labeling import build

    from hallu_core.cli.main import main
    from hallu_core.data.workspace import open_workspace

    build(open_workspace(tmp_path / "ws"), texts={g: "Paris is the capital of Germany." for g in ("g1", "g2", "g3", "g4")})
    out = tmp_path / "adapter"
    result = CliRunner().invoke(main, ["train-detector", "--annotator", "gold", "-w", str(tmp_path / "ws"), "--from",
                                       "none", "--backbone", backbone, "--out", str(out), "--max-length", "64"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.rindex('{"out"'):].splitlines()[0])["examples"] == 4
    assert SpanDetector(pretrained=str(out), quantize=False).detect([DetectItem("a", "Paris is in Germany.")])


def test_detect_file_train_on_fits_the_span_detector_first(backbone, tmp_path):
    import json

    from hallu_core.detection.detectors.filemode import detect_file

    out = "Paris is the capital of Germany."
    rows = [{"id": f"r{i}", "task_type": "QA", "source_id": f"s{i}", "source": "Paris is the capital of France.",
             "response": out, "labels": [{"start": 24, "end": 31, "text": "Germany", "label_type": "Evident Conflict"}] if i % 2 else []}
            for i in range(4)]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert detect_file(data, "span", tmp_path / "p.jsonl", train_on=data, model=backbone, pretrained=None,
                       max_length=64, quantize=False) == 4
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 4
