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


def test_where_text_is_not_unicode():
    assert json_text.not_unicode_at({"a": ["x", {"b": "ok \U0001f600"}], "n": 1}) is None
    assert json_text.not_unicode_at({"a": ["x", {"b": "\ud800"}]}) == ("a", 1, "b")
    assert json_text.not_unicode_at({"\udcff": 1}) == ("\udcff",)
    assert json_text.not_unicode_at("\udc80") == ()
    assert json_text.not_unicode_at((1, None, 2.5, True)) is None
