"""Plug-in detectors loaded by folder path: tiny random models in the published models' formats.

`lettuce` must give exactly what the `lettucedetect` package predicts for the same item (its prompts,
passage numbering and chunking), `nli` exactly what sentence-transformers' CrossEncoder scores. The
tokenizer is the bundled MiniLM's (a real WordPiece vocabulary, offline)."""
import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from hallu_core.detection.detectors import DetectItem, get_detector  # noqa: E402
from hallu_core.detection.detectors.encoder import default_model_path  # noqa: E402
from hallu_core.detection.detectors.plugins import _cross_encoder, _lettuce  # noqa: E402


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(default_model_path())


def save(model, tokenizer, path) -> str:
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    _lettuce.cache_clear()
    _cross_encoder.cache_clear()
    return str(path)


def constant_head(model, bias):
    """Every position gets the same logits: the expected output is known exactly."""
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(bias))
    return model


def token_classifier(tokenizer, path, bias=None) -> str:
    """A random ModernBERT token classifier shaped like LettuceDetect's models (label 1 = hallucinated)."""
    ids = dict(pad_token_id=tokenizer.pad_token_id, cls_token_id=tokenizer.cls_token_id,
               sep_token_id=tokenizer.sep_token_id, bos_token_id=tokenizer.cls_token_id,
               eos_token_id=tokenizer.sep_token_id)
    cfg = transformers.ModernBertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                                        local_attention=16, global_attn_every_n_layers=1, num_labels=2, **ids)
    torch.manual_seed(0)
    model = transformers.ModernBertForTokenClassification(cfg)
    return save(model if bias is None else constant_head(model, bias), tokenizer, path)


def nli_model(tokenizer, path, bias=None) -> str:
    labels = {0: "contradiction", 1: "entailment", 2: "neutral"}
    cfg = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                                  num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()})
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg)
    return save(model if bias is None else constant_head(model, bias), tokenizer, path)


QUESTION = "how do automotive technicians get paid"
PASSAGES = ["Whether mechanics are entitled to overtime depends on where they work and how they are paid.",
            "Automotive technicians in Alaska earn about $23.70 per hour or $49,400 per year.",
            "There are various combinations of hourly and commission pay rates across companies."]
# RAGTruth's QA sources, as Hallu imports them: the question, then numbered passages
QA_SOURCE = f"Question: {QUESTION}\n\nPassages:\n" + "".join(f"passage {i}:{p}\n\n" for i, p in enumerate(PASSAGES, 1))
QA_ANSWER = "Technicians are paid hourly or by commission, and in Alaska they earn $60 per hour."
ARTICLE = ("The city council voted on Tuesday to build a new library downtown. The project will cost 12 million "
           "dollars and open in 2026. Opponents said the money should go to road repairs instead.")
SUMMARY = "The council approved a 20 million dollar library that opens in 2025, despite objections."
RECORD = json.dumps({"name": "Taffy's Pizza", "city": "Santa Barbara", "categories": "Restaurants, Pizza",
                     "hours": {"Monday": "0:0-0:0", "Tuesday": "11:0-21:0"}}, indent=2)
OVERVIEW = "Taffy's Pizza in Santa Barbara is open every day of the week and is famous for its pasta."


def assert_same_spans(item, result, expected):
    assert expected  # the random model flags some tokens: the comparison is not vacuous
    lead = len(item.output) - len(item.output.lstrip())
    assert [(s.start, s.end, s.score) for s in result.spans] == [
        (lead + e["start"], lead + e["end"], round(e["confidence"], 4)) for e in expected]
    assert [item.output[s.start:s.end] for s in result.spans] == [e["text"] for e in expected]


def test_lettuce_spans_are_lettucedetects_own_prediction_per_task(tokenizer, tmp_path):
    pytest.importorskip("lettucedetect", reason="the lettuce plug-in's package: pip install 'hallu[lettuce]'")
    from lettucedetect.models.inference import HallucinationDetector

    folder = token_classifier(tokenizer, tmp_path / "lettuce")
    # (Hallu's item, what lettucedetect's README passes for it: the passages and the question or None)
    cases = [
        (DetectItem("qa", QA_ANSWER, source=QA_SOURCE, question=QUESTION, task="QA"), PASSAGES, QUESTION),
        (DetectItem("sum", "\n" + SUMMARY, source=ARTICLE, question="None", task="Summary"), [ARTICLE], None),
        (DetectItem("d2t", OVERVIEW, source=RECORD, question="None", task="Data2txt"), [RECORD], None),
        (DetectItem("own", SUMMARY, source=ARTICLE, question="What did the council decide?", task="news"),
         [ARTICLE], "What did the council decide?"),
    ]
    results = get_detector("lettuce", model=folder).detect([item for item, _, _ in cases])
    theirs = HallucinationDetector(method="transformer", model_path=folder, local_files_only=True)
    for (item, context, question), result in zip(cases, results):
        expected = theirs.predict(context=context, question=question, answer=item.output.lstrip(),
                                  output_format="spans")
        assert_same_spans(item, result, expected)


def test_lettuce_chunks_a_long_context_as_lettucedetect_does(tokenizer, tmp_path):
    pytest.importorskip("lettucedetect", reason="the lettuce plug-in's package: pip install 'hallu[lettuce]'")
    from lettucedetect.detectors.prompt_utils import PromptUtils
    from lettucedetect.models.inference import HallucinationDetector

    folder, max_length = token_classifier(tokenizer, tmp_path / "lettuce"), 160
    passages = PASSAGES * 4
    source = "\n".join(f"passage {i}: {p}" for i, p in enumerate(passages, 1))
    item = DetectItem("long", QA_ANSWER, source=source, question=QUESTION, task="QA")
    prompt = PromptUtils.format_context(passages, QUESTION, "en")
    assert len(tokenizer(prompt, QA_ANSWER)["input_ids"]) > max_length  # one window cannot hold it
    [result] = get_detector("lettuce", model=folder, max_length=max_length).detect([item])
    theirs = HallucinationDetector(method="transformer", model_path=folder, max_length=max_length,
                                   local_files_only=True)
    expected = theirs.predict(context=passages, question=QUESTION, answer=QA_ANSWER, output_format="spans")
    assert_same_spans(item, result, expected)


def test_lettuce_threshold_and_constant_models(tokenizer, tmp_path):
    pytest.importorskip("lettucedetect", reason="the lettuce plug-in's package: pip install 'hallu[lettuce]'")
    item = DetectItem("a", QA_ANSWER, source=QA_SOURCE, question=QUESTION, task="QA")
    alarmed = token_classifier(tokenizer, tmp_path / "alarmed", bias=[0.0, 4.0])
    [r] = get_detector("lettuce", model=alarmed).detect([item])
    assert [(s.start, s.end) for s in r.spans] == [(0, len(QA_ANSWER))]  # every token flagged: one span
    assert r.spans[0].score == pytest.approx(torch.tensor([0.0, 4.0]).softmax(0)[1].item(), abs=1e-4)
    assert get_detector("lettuce", model=alarmed, threshold=0.99).detect([item])[0].spans == []
    assert get_detector("lettuce", model=alarmed).detect([DetectItem("e", "", source=QA_SOURCE)])[0].spans == []
    calm = token_classifier(tokenizer, tmp_path / "calm", bias=[4.0, 0.0])
    [r] = get_detector("lettuce", model=calm).detect([item])
    assert r.spans == [] and r.response_score == 0.0


def test_nli_scores_are_the_cross_encoders_own(tokenizer, tmp_path):
    from sentence_transformers import CrossEncoder

    folder = nli_model(tokenizer, tmp_path / "nli")
    out = "Paris is in Germany. The capital is Paris."
    item = DetectItem("a", out, source=ARTICLE)
    [r] = get_detector("nli", model=folder, threshold=1.0).detect([item])  # flag every sentence to see each score
    expected = CrossEncoder(folder, local_files_only=True).predict(
        [(ARTICLE, "Paris is in Germany."), (ARTICLE, "The capital is Paris.")], apply_softmax=True)
    assert [out[s.start:s.end] for s in r.spans] == ["Paris is in Germany.", "The capital is Paris."]
    assert [s.evidence["entailment"] for s in r.spans] == pytest.approx(expected[:, 1], abs=1e-4)
    assert [s.evidence["contradiction"] for s in r.spans] == pytest.approx(expected[:, 0], abs=1e-4)
    assert [s.score for s in r.spans] == pytest.approx(1 - expected[:, 1], abs=1e-4)


def test_nli_flags_contradicted_sentences_as_conflicts_and_passes_entailed_ones(tokenizer, tmp_path):
    out = "Paris is in Germany. The capital is Paris."
    contradicting = nli_model(tokenizer, tmp_path / "contra", bias=[4.0, 0.0, 0.0])
    [r] = get_detector("nli", model=contradicting).detect([DetectItem("a", out, source=ARTICLE)])
    assert [out[s.start:s.end] for s in r.spans] == ["Paris is in Germany.", "The capital is Paris."]
    assert {s.type for s in r.spans} == {"conflict"}
    entailing = nli_model(tokenizer, tmp_path / "entail", bias=[0.0, 4.0, 0.0])
    assert get_detector("nli", model=entailing).detect([DetectItem("a", out, source=ARTICLE)])[0].spans == []
