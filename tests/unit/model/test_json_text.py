import json

from baton.model import json_text


def test_the_text_is_what_json_dumps_writes():
    data = {"b": [1, 2.5, None, True], "a": {"nested": 'x\ty"z', "empty": [], "none": {}}}
    assert json_text.indented(data) == json.dumps(data, indent=2)
    assert json_text.indented([]) == "[]"


def test_text_that_is_not_ascii_is_escaped_as_json_does():
    data = {"name": "café ☕", "lone": "\ud800"}
    assert json_text.indented(data) == json.dumps(data, indent=2)


def test_a_type_msgspec_cannot_encode_gets_jsons_own_error():
    class Odd:
        pass

    try:
        json_text.indented({"x": Odd()})
    except TypeError as exc:
        assert "Odd" in str(exc)
    else:
        raise AssertionError("no TypeError")
