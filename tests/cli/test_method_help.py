"""Discoverable methods: `asru unlearn --help` lists the registry, `--help-method` a method's parameters and their sources."""

import re

import pytest
from pydantic import Field

import asru.methods.all  # noqa: F401  (registers every method, for the parametrisations below)
from asru.config import StrictConfig
from asru.methods.base import DEFAULT_SOURCES, METHODS, Method, get_method, method_summaries
from conftest import assert_one_line_error  # tests/conftest.py


def test_unlearn_help_lists_every_method_with_its_summary(cli, monkeypatch):
    class Toy(Method):
        """Toy: a method registered after the CLI was written appears by itself."""

        name = "toy"

    method_summaries()  # import every method file first, so that the toy is not the only one
    monkeypatch.setitem(METHODS, "toy", Toy)
    code, out, _ = cli("unlearn", "--help")
    assert code == 0
    epilog = " ".join(out[out.index("Methods (--method NAME") :].split())  # rich wraps long lines
    for name, summary in method_summaries().items():
        assert f" {name} {' '.join(summary.split()[:4])}" in epilog, name
    assert "toy Toy: a method registered after the CLI was written appears by itself." in epilog


def test_every_method_says_what_it_does():
    summaries = method_summaries()
    assert set(summaries) == set(METHODS) and len(summaries) >= 13
    assert all(10 < len(summary) <= 120 for summary in summaries.values()), summaries


@pytest.mark.parametrize("order", ["method_first", "help_first"])
def test_help_method_prints_the_parameters_defaults_and_sources(cli, order):
    args = ["--method", "npo", "--help-method"] if order == "method_first" else ["--help-method", "--method", "npo"]
    code, out, err = cli("unlearn", *args)  # no --model/--world/--out needed
    assert code == 0, err
    assert out.startswith("npo: NPO (Zhang et al., 2024)")
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert set(rows) == {"learning_rate", "steps", "beta", "forget_weight", "retain_weight", "nll_reduction"}
    assert re.search(r"beta\s+paper\s+0\.1\s+\(float\)", rows["beta"])
    assert re.search(r"learning_rate\s+chosen here\s+5e-05", rows["learning_rate"])
    assert "method_args: {beta: 0.1}" in out and "tuned here: tuned on the embedded world" in out


def test_asru_marks_its_tuned_and_published_defaults(cli):
    code, out, _ = cli("unlearn", "--method", "asru", "--help-method")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    expected = {"learning_rate": "tuned here", "scale": "paper", "continuation_weight": "chosen here", "rl.learning_rate": "tuned here", "rl.temperature": "paper", "rl.group_size": "paper",
                "forget_items": "paper", "boundary_retain": "chosen here", "rl.steps": "chosen here", "reward.refusals": "paper",
                "reward.straight_apostrophe_refusals": "paper", "stranger_refusal_weight": "tuned here"}
    for name, source in expected.items():
        assert re.match(rf"\s+{re.escape(name)}\s+{source}\s", rows[name]), rows[name]
    assert re.search(r"rl\.learning_rate\s+tuned here\s+0\.0001", rows["rl.learning_rate"])  # nested configs are flattened


def test_help_method_alone_lists_the_methods(cli):
    code, out, _ = cli("unlearn", "--help-method")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[: len(METHODS)]] == sorted(METHODS)


def test_help_method_with_an_unknown_method_is_one_line(cli):
    code, _, err = cli("unlearn", "--method", "npoo", "--help-method")
    assert_one_line_error(code, err, "unknown method 'npoo'", "npo")


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_source_marker_names_a_parameter_and_a_known_source(name):
    method_cls = get_method(name)
    names = {row["name"] for row in method_cls.parameter_rows()}
    prefixes = {n.split(".")[0] for n in names}
    for klass in method_cls.__mro__:
        for parameter, source in klass.__dict__.get("default_sources", {}).items():
            assert source in DEFAULT_SOURCES, (klass, parameter, source)
            assert parameter in names or parameter in prefixes or (parameter in ("learning_rate", "steps") and not method_cls.trains), (klass, parameter)
    assert all(row["source"] in DEFAULT_SOURCES for row in method_cls.parameter_rows())


class Inner(StrictConfig):
    a: int = 1
    b: int = 2


class Marked(Method):
    name = "marked"
    default_source = "paper"
    default_sources = {"inner": "tuned here", "inner.b": "chosen here"}

    class Params(StrictConfig):
        x: float = 0.5
        inner: Inner = Field(default_factory=Inner)


def test_a_parameter_takes_its_nearest_marker_else_the_class_source():
    sources = {row["name"]: row["source"] for row in Marked.parameter_rows()}
    assert sources == {"learning_rate": "paper", "steps": "paper", "x": "paper", "inner.a": "tuned here", "inner.b": "chosen here"}
