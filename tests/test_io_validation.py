"""A malformed file is refused with file, line and field, and nothing is stored."""
import json

import pytest

from hallu_core.data.io import import_file
from hallu_core.data.records import ImportValidationError

GOOD = {"id": "r1", "task_type": "QA", "model": "m", "source": "Paris is in France.", "source_id": "s1",
        "question": "Where is Paris?", "response": "Paris is in Spain.",
        "labels": [{"start": 12, "end": 17, "text": "Spain", "label_type": "Evident Conflict"}]}


def line(**changes):
    row = {**GOOD, **changes}
    return json.dumps({k: v for k, v in row.items() if v is not ...})


def with_label(**changes):
    return line(labels=[{**GOOD["labels"][0], **changes}])


CASES = {
    "broken JSON": ([line(id="r0"), '{"id": "r1", "response": '], 2, "broken JSON"),
    "missing response": ([line(response=...)], 1, "response: required field is missing"),
    "mistyped start": ([with_label(start="12")], 1, "labels[0].start: expected int, got str"),
    "bool as offset": ([with_label(end=True)], 1, "labels[0].end: expected int, got bool"),
    "mistyped labels": ([line(labels="none")], 1, "labels: expected list"),
    "offsets outside": ([with_label(end=99)], 1, "fall outside the response"),
    "negative offset": ([with_label(start=-1)], 1, "fall outside the response"),
    "text mismatch": ([with_label(text="Spai")], 1, "labels[0].text"),
    "unknown type": ([with_label(type="wrong")], 1, "labels[0].type"),
    "duplicate ids": ([line(), line(response="Other.", labels=[])], 2, "duplicate id 'r1' (first on line 1)"),
    "not an object": (["[1, 2]"], 1, "expected a JSON object"),
    "empty id": ([line(id="")], 1, "id: must not be empty"),
    "source disagrees": ([line(), line(id="r2", source="Other.", labels=[])], 2, "source_id 's1'"),
}


def counts_unchanged(store, path, expected_line, expected_text):
    before = store.counts()
    with pytest.raises(ImportValidationError) as info:
        import_file(store, path)
    message = str(info.value)
    assert f"{path}:{expected_line}" in message if expected_line else str(path) in message
    assert expected_text in message
    assert "nothing was stored" in message
    assert store.counts() == before


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_jsonl_is_refused(store, tmp_path, case):
    lines, expected_line, expected_text = CASES[case]
    import_file(store, _write(tmp_path / "ok.jsonl", [line(id="keep", source_id="k")]))  # already stored
    counts_unchanged(store, _write(tmp_path / "bad.jsonl", lines), expected_line, expected_text)


def test_empty_file(store, tmp_path):
    counts_unchanged(store, _write(tmp_path / "empty.jsonl", ["", "  "]), 0, "holds no records")


def test_non_utf8_bytes(store, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(line().encode() + b"\n" + line(id="r2").replace("Paris", "Par\xe9s").encode("latin-1") + b"\n")
    counts_unchanged(store, path, 2, "not UTF-8 (byte 0xe9")


def test_bad_rows_in_the_middle_refuse_the_whole_file(store, tmp_path):
    good = [line(id=f"g{i}", source_id=f"s{i}") for i in range(50)]
    counts_unchanged(store, _write(tmp_path / "mixed.jsonl", good[:25] + [with_label(end=500)] + good[25:]),
                     26, "outside")


def test_csv_with_a_non_numeric_offset(store, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,response,annotator,start,end,text,type\nr1,Hello world,gold,0,five,Hello,baseless\n",
                    encoding="utf-8")
    counts_unchanged(store, path, 2, "end: expected a number")


def test_reimport_with_a_changed_response_is_refused(store, tmp_path):
    import_file(store, _write(tmp_path / "a.jsonl", [line()]))
    counts_unchanged(store, _write(tmp_path / "a2.jsonl", [line(response="Paris is in Italy.", labels=[])]),
                     1, "already stored with a different response")


def test_unknown_extension(store, tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format"):
        import_file(store, _write(tmp_path / "data.txt", [line()]))


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_byte_order_mark_is_accepted(store, tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + line().encode() + b"\n")
    assert import_file(store, path)["generations"] == 1


@pytest.mark.parametrize("kind", ["generations", "examples"])
def test_a_broken_json_line_does_not_hide_the_other_lines_errors(store, tmp_path, kind):
    """Issue 13 item 10: every error of the file shows at once, in line order, and nothing is stored."""
    if kind == "generations":
        lines = [line(id="r0", response=...), "{broken", with_label(start="12")]
        expected = ["bad.jsonl:1: response: required field is missing", "bad.jsonl:2: broken JSON",
                    "bad.jsonl:3: labels[0].start: expected int"]
    else:
        lines = [json.dumps({"prompt": 3}), "{broken", json.dumps({"prompt": "ok"})]
        expected = ["bad.jsonl:1: prompt", "bad.jsonl:2: broken JSON"]
    before = store.counts()
    with pytest.raises(ImportValidationError) as info:
        import_file(store, _write(tmp_path / "bad.jsonl", lines))
    shown = [str(p) for p in info.value.problems]
    assert len(shown) == len(expected)
    for problem, start in zip(shown, expected):
        assert problem.startswith(str(tmp_path / start)), (problem, start)
    assert store.counts() == before
