import ast

import pytest

from tests.harness import python_source


def test_a_spurious_system_error_is_parsed_again(monkeypatch, tmp_path):
    path = tmp_path / "module.py"
    path.write_text("class A:\n    pass\n")
    real_parse = ast.parse
    calls = []

    def flaky_parse(source, **kwargs):
        calls.append(source)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=1, after=2)")
        return real_parse(source, **kwargs)

    monkeypatch.setattr(python_source, "_parse", flaky_parse)
    tree = python_source.parse_module(path)
    assert [node.name for node in tree.body] == ["A"] and len(calls) == 2


def test_a_persistent_system_error_is_raised(monkeypatch, tmp_path):
    path = tmp_path / "module.py"
    path.write_text("x = 1\n")

    def broken_parse(source, **kwargs):
        raise SystemError("always")

    monkeypatch.setattr(python_source, "_parse", broken_parse)
    with pytest.raises(SystemError, match="always"):
        python_source.parse_module(path)
