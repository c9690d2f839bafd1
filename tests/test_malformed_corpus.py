"""A corpus of malformed files (JSONL, CSV, Parquet): each refused with file:line and field.

Complements tests/test_io_validation.py (the basic cases) with the files people really
bring: offsets counted in bytes, cut downloads, numbers too large for a float, lone
surrogate escapes, ragged CSV rows, repeated ids with different text, damaged Parquet.
After each refusal the workspace counts are what they were, and the CLI exits 1
without a traceback.
"""
from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner

from hallu_core.cli.main import main
from hallu_core.data.io import import_file
from hallu_core.data.records import ImportValidationError

GOOD = {"id": "r1", "task_type": "QA", "model": "m", "source": "Paris is in France.", "source_id": "s1",
        "question": "Where is Paris?", "response": "Paris is in Spain.",
        "labels": [{"start": 12, "end": 17, "text": "Spain", "label_type": "Evident Conflict"}]}
SPAIN = GOOD["labels"][0]
CSV_HEAD = "id,response,annotator,start,end,text,type"


def row(**changes) -> str:
    return json.dumps({k: v for k, v in {**GOOD, **changes}.items() if v is not ...}, ensure_ascii=False)


def label(**changes) -> str:
    return row(labels=[{k: v for k, v in {**SPAIN, **changes}.items() if v is not ...}])


def jsonl(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def parquet(**columns) -> bytes:
    import pandas as pd

    out = io.BytesIO()
    pd.DataFrame(columns).to_parquet(out, index=False)
    return out.getvalue()


def good_parquet() -> bytes:
    return parquet(id=["r1"], response=["Paris is in Spain."], annotator=["gold"], start=[12], end=[17],
                   text=["Spain"], type=["conflict"])


# name -> (extension, file bytes, line (0: the whole file), field ("" : none), words in the message)
CORPUS = {
    # -- JSONL: broken lines ----------------------------------------------------------------------
    "trailing garbage": (".jsonl", jsonl(row() + " x"), 1, "", "broken JSON: Extra data"),
    "download cut short": (".jsonl", jsonl(row(id="r0"), row()[:40]), 2, "", "broken JSON"),
    "single quotes": (".jsonl", jsonl(row().replace('"', "'")), 1, "", "broken JSON"),
    "5000-digit number": (".jsonl", jsonl(row()[:-1] + ', "n": ' + "9" * 5000 + "}"), 1, "", "unreadable JSON"),
    "nested 100k deep": (".jsonl", jsonl(row()[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"), 1, "",
                         "nested too deeply"),
    "lone surrogate": (".jsonl", jsonl(row(id="r0"), row(response="x").replace('"x"', '"\\ud800x"')), 2,
                       "response", "unpaired surrogate"),
    "string of a list": (".jsonl", jsonl('"just a string"'), 1, "", "expected a JSON object, got str"),
    # -- JSONL: fields -----------------------------------------------------------------------------
    "response a number": (".jsonl", jsonl(row(response=42, labels=[])), 1, "response", "expected str, got int"),
    "response null": (".jsonl", jsonl(row(response=None)), 1, "response", "required field is missing"),
    "id a list": (".jsonl", jsonl(row(id=["r1"])), 1, "id", "expected str or int, got list"),
    "id blank": (".jsonl", jsonl(row(id="   ")), 1, "id", "must not be empty"),
    "id missing": (".jsonl", jsonl(row(id=...)), 1, "id", "required field is missing"),
    "source a number": (".jsonl", jsonl(row(source=5)), 1, "source", "expected str"),
    "question a list": (".jsonl", jsonl(row(question=["Where?"])), 1, "question", "expected str"),
    "model an object": (".jsonl", jsonl(row(model={"name": "m"})), 1, "model", "expected str, got dict"),
    "task_type a number": (".jsonl", jsonl(row(task_type=1)), 1, "task_type", "expected str"),
    "annotators a string": (".jsonl", jsonl(row(annotators="gold")), 1, "annotators", "expected list"),
    "annotators blank name": (".jsonl", jsonl(row(annotators=[""])), 1, "annotators", "a list of names"),
    # -- JSONL: labels -----------------------------------------------------------------------------
    "label a string": (".jsonl", jsonl(row(labels=["Spain"])), 1, "labels[0]", "expected an object"),
    "label end missing": (".jsonl", jsonl(label(end=...)), 1, "labels[0].end", "required field is missing"),
    "label start after end": (".jsonl", jsonl(label(start=17, end=12)), 1, "labels[0].start/end",
                              "fall outside"),
    "label float offset": (".jsonl", jsonl(label(start=12.0)), 1, "labels[0].start", "expected int, got float"),
    "label without a type": (".jsonl", jsonl(label(label_type=...)), 1, "labels[0].label_type", "needs"),
    "label score a word": (".jsonl", jsonl(label(score="high")), 1, "labels[0].score", "expected int or float"),
    "label score overflows": (".jsonl", jsonl(label(score=10 ** 400)), 1, "labels[0].score", "finite number"),
    "label note a number": (".jsonl", jsonl(label(note=5)), 1, "labels[0].note", "expected str"),
    "offsets counted in bytes": (".jsonl", jsonl(row(response="Née à Zürich, en Suisse.", labels=[
        {"start": 8, "end": 15, "text": "Zürich", "label_type": "Evident Baseless Info"}])), 1,
        "labels[0].text", "does not match"),
    "second label bad, first fine": (".jsonl", jsonl(row(labels=[SPAIN, {**SPAIN, "end": 18}])), 1,
                                     "labels[1].text", "does not match"),
    # -- JSONL: example rows -----------------------------------------------------------------------
    "example without prompt": (".jsonl", jsonl('{"id": "e1", "source": "text"}'), 1, "prompt",
                               "required field is missing"),
    "example blank prompt": (".jsonl", jsonl('{"id": "e1", "prompt": " "}'), 1, "prompt", "must not be empty"),
    "example meta a list": (".jsonl", jsonl('{"id": "e1", "prompt": "p", "meta": [1]}'), 1, "meta",
                            "expected dict"),
    "example duplicate id": (".jsonl", jsonl('{"id": "e1", "prompt": "p"}', '{"id": "e1", "prompt": "q"}'), 2,
                             "id", "duplicate id"),
    # -- CSV ---------------------------------------------------------------------------------------
    "csv without id column": (".csv", csv("response,start", "hi,0"), 1, "", "needs the columns id"),
    "csv header only": (".csv", csv(CSV_HEAD), 0, "", "holds no records"),
    "csv latin-1 bytes": (".csv", csv(CSV_HEAD, "r1,Caf\xe9,gold,0,3,Caf,baseless").replace(b"\xc3\xa9", b"\xe9"),
                          0, "", "not UTF-8"),
    "csv ragged row": (".csv", csv(CSV_HEAD, "r1,Hello world,gold,0,5,Hello,baseless",
                                   "r2,Hi there,gold,0,2,Hi,baseless,extra,more"), 0, "",
                       "cannot read as csv"),
    "csv start not a number": (".csv", csv(CSV_HEAD, "r1,Hello world,gold,zero,5,Hello,baseless"), 2, "start",
                               "expected a number"),
    "csv offsets outside": (".csv", csv(CSV_HEAD, "r1,Hello world,gold,6,50,world,baseless"), 2,
                            "labels[0].start/end", "fall outside"),
    "csv text mismatch": (".csv", csv(CSV_HEAD, "r1,Hello world,gold,0,5,Howdy,baseless"), 2, "labels[0].text",
                          "does not match"),
    "csv unknown type": (".csv", csv(CSV_HEAD, "r1,Hello world,gold,0,5,Hello,lie"), 2, "labels[0].type",
                         "not one of"),
    "csv empty response": (".csv", csv(CSV_HEAD, "r1,,gold,,,,"), 2, "response", "required field is missing"),
    "csv repeated id, other response": (".csv", csv(CSV_HEAD, "r1,Hello world,gold,0,5,Hello,baseless",
                                                    "r1,Goodbye world,gold,0,7,Goodbye,baseless"), 3, "response",
                                        "different response"),
    "csv score not finite": (".csv", csv(CSV_HEAD + ",score", "r1,Hello world,gold,0,5,Hello,baseless,nan"), 2,
                             "labels[0].score", "finite number"),
    # -- Parquet -----------------------------------------------------------------------------------
    "parquet truncated": (".parquet", good_parquet()[:-200], 0, "", "cannot read as parquet"),
    "parquet that is JSON": (".parquet", jsonl(row()), 0, "", "cannot read as parquet"),
    "parquet without response": (".parquet", parquet(id=["r1"], text=["x"]), 1, "", "needs the columns id"),
    "parquet response bytes": (".parquet", parquet(id=["r1"], response=[b"Hello"]), 1, "response",
                               "expected str, got bytes"),
    "parquet fractional offset": (".parquet", parquet(id=["r1"], response=["Hello"], annotator=["gold"],
                                                      start=[0.5], end=[3.0], type=["baseless"]), 1, "start",
                                  "expected a number"),
    "parquet null id": (".parquet", parquet(id=[None], response=["Hello"]), 1, "id", "required field is missing"),
    "parquet offsets outside": (".parquet", parquet(id=["r1"], response=["Hello"], annotator=["gold"], start=[2],
                                                    end=[9], type=["baseless"]), 1, "labels[0].start/end",
                                "fall outside"),
    "parquet repeated id, other response": (".parquet", parquet(id=["r1", "r1"], response=["Hello", "Bye"]), 2,
                                            "response", "different response"),
}


def _case_path(tmp_path, name):
    extension, data, _, _, _ = CORPUS[name]
    path = tmp_path / (name.replace(" ", "_").replace(",", "") + extension)
    path.write_bytes(data)
    return path


@pytest.fixture
def filled_store(store, tmp_path):
    """A workspace that already holds an import, so "nothing stored" is checked against real counts."""
    keep = tmp_path / "keep.jsonl"
    keep.write_text(row(id="keep", source_id="k") + "\n", encoding="utf-8")
    import_file(store, keep)
    return store


def test_the_corpus_has_at_least_30_distinct_files_in_three_formats():
    assert len(CORPUS) >= 30
    assert len({data for _, data, _, _, _ in CORPUS.values()}) == len(CORPUS)
    assert {ext for ext, *_ in CORPUS.values()} == {".jsonl", ".csv", ".parquet"}


@pytest.mark.parametrize("name", list(CORPUS))
def test_malformed_file_is_refused_with_file_line_and_field(filled_store, tmp_path, name):
    _, _, line, field, words = CORPUS[name]
    path = _case_path(tmp_path, name)
    before = filled_store.counts()
    with pytest.raises(ImportValidationError) as info:
        import_file(filled_store, path)
    problems = info.value.problems
    assert any(p.file == str(path) and p.line == line and p.field == field and words in p.message
               for p in problems), f"expected {path}:{line}: {field}: ...{words}...; got {problems}"
    message = str(info.value)
    assert (f"{path}:{line}: " if line else f"{path}: ") in message
    assert "nothing was stored" in message
    assert filled_store.counts() == before


def test_the_cli_refuses_every_corpus_file_without_a_traceback(tmp_path):
    ws = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(main, ["info", "-w", str(ws)]).exit_code == 0
    refused = 0
    for name in CORPUS:
        result = runner.invoke(main, ["import", str(_case_path(tmp_path, name)), "-w", str(ws)])
        assert result.exit_code == 1, (name, result.output)
        assert "Traceback" not in result.output and "import refused" in result.output, (name, result.output)
        refused += 1
    counts = json.loads(runner.invoke(main, ["info", "--json", "-w", str(ws)]).output)
    assert (counts["examples"], counts["generations"], counts["labels"]) == (0, 0, 0)
    assert refused == len(CORPUS)
