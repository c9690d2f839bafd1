"""Plug-in detectors loaded by folder path: tiny random BERTs with an in-process tokenizer."""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tokenizers import Tokenizer, models, pre_tokenizers, processors  # noqa: E402

from hallu_core.detection.detectors import DetectItem, get_detector  # noqa: E402
from hallu_core.detection.detectors.plugins import _load  # noqa: E402

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "paris", "is", "in", "france", "germany", ".", "the", "capital",
         "Paris", "France", "Germany", "The", "Question", ":", "where"]


def tiny_tokenizer():
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]")


def save_tiny(path, head, num_labels, bias, **config):
    cfg = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=128, num_labels=num_labels, **config)
    torch.manual_seed(0)
    model = head(cfg)
    with torch.no_grad():  # a constant head makes the expected spans known exactly
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    _load.cache_clear()
    return str(path)


CONTEXT = "Paris is the capital of France ."
ANSWER = "Zoë says Paris is in Germany.\nThe capital  is Paris."


def test_token_classifier_maps_flagged_tokens_to_answer_char_spans(tmp_path):
    folder = save_tiny(tmp_path / "lettuce", transformers.BertForTokenClassification, 2, [0.0, 4.0])
    det = get_detector("lettuce", model=folder)
    [r] = det.detect([DetectItem("a", ANSWER, source=CONTEXT, question="where")])
    # every answer token is flagged: touching tokens merge, so the span covers the whole answer,
    # with offsets into the answer (not the context that came first in the pair)
    assert [(s.start, s.end) for s in r.spans] == [(0, len(ANSWER) - 0)]
    assert r.spans[0].score == pytest.approx(torch.tensor([0.0, 4.0]).softmax(0)[1].item(), abs=1e-3)
    assert det.detect([DetectItem("e", "", source=CONTEXT)])[0].spans == []


def test_token_classifier_below_threshold_flags_nothing(tmp_path):
    folder = save_tiny(tmp_path / "calm", transformers.BertForTokenClassification, 2, [4.0, 0.0])
    [r] = get_detector("lettuce", model=folder).detect([DetectItem("a", ANSWER, source=CONTEXT)])
    assert r.spans == [] and r.response_score == 0.0


def test_nli_cross_encoder_flags_contradicted_sentences_as_conflicts(tmp_path):
    labels = {0: "contradiction", 1: "entailment", 2: "neutral"}
    folder = save_tiny(tmp_path / "nli", transformers.BertForSequenceClassification, 3, [4.0, 0.0, 0.0],
                       id2label=labels, label2id={v: k for k, v in labels.items()})
    out = "Paris is in Germany. The capital is Paris."
    [r] = get_detector("nli", model=folder).detect([DetectItem("a", out, source=CONTEXT)])
    assert [out[s.start:s.end] for s in r.spans] == ["Paris is in Germany.", "The capital is Paris."]
    assert {s.type for s in r.spans} == {"conflict"}


def test_nli_entailed_output_is_clean(tmp_path):
    labels = {0: "contradiction", 1: "entailment", 2: "neutral"}
    folder = save_tiny(tmp_path / "nli_ok", transformers.BertForSequenceClassification, 3, [0.0, 4.0, 0.0],
                       id2label=labels, label2id={v: k for k, v in labels.items()})
    [r] = get_detector("nli", model=folder).detect([DetectItem("a", "Paris is in France.", source=CONTEXT)])
    assert r.spans == []
