"""Linkage domains as values (issue 20): what each technique declares, and its text form.

The text forms are those the report has always shown and SQL has always bound
(``<kind>|<function>[:<parameters>][|<form>]``): the value object changes no figure.
"""

from __future__ import annotations

import dataclasses

import pytest

import linkrisk as lr
from linkrisk.linkage_domain import LinkageDomain
from test_linkage_handmade import tiny_study

# phone is held by datasets B and C of the tiny study. Expected domains, from each
# technique's contract (docs/method.md, Pseudonymisation):
#   keep: the plaintext of the kind; mask / generalise: the kept shape, no input form;
#   hashes and keys: the function, its secret's scope per holder (dataset:B, dataset:C)
#   or shared (global), and the input form (norm: normalised first; raw: as written);
#   bloom_filter: scope and the filter's parameters, q=2, k=20 hash functions, l=1024 bits.
EXPECTED = {
    "keep": {"keep": {}, "B": LinkageDomain("phone", "plain"), "text_B": "phone|plain"},
    "mask": {"mask": {"keep_first": 3}, "B": LinkageDomain("phone", "mask", ("3", "0")),
             "text_B": "phone|mask:3:0"},
    "generalise": {"generalise": {"level": 3}, "B": LinkageDomain("phone", "generalise", ("3",)),
                   "text_B": "phone|generalise:3"},
    "hash": {"hash": {}, "B": LinkageDomain("phone", "sha256", (), "norm"), "text_B": "phone|sha256|norm"},
    "raw-hash": {"hash": {"normalise": False}, "B": LinkageDomain("phone", "sha256", (), "raw"),
                 "text_B": "phone|sha256|raw"},
    "keyed": {"keyed_hash": {"key_scope": "dataset"},
              "B": LinkageDomain("phone", "hmac", ("dataset:B",), "norm"), "text_B": "phone|hmac:dataset:B|norm",
              "C": LinkageDomain("phone", "hmac", ("dataset:C",), "norm")},
    "salted": {"salted_hash": {"key_scope": "global"},
               "B": LinkageDomain("phone", "salted_hash", ("global",), "norm"),
               "text_B": "phone|salted_hash:global|norm"},
    "encrypted": {"deterministic_encryption": {"key_scope": "global"},
                  "B": LinkageDomain("phone", "enc", ("global",), "norm"), "text_B": "phone|enc:global|norm"},
    "tokenised": {"tokenise": {"key_scope": "global"},
                  "B": LinkageDomain("phone", "vault", ("global",), "norm"), "text_B": "phone|vault:global|norm"},
    "random": {"randomise": {}, "B": LinkageDomain("phone", "random", (), "norm"), "text_B": "phone|random|norm"},
    "bloom": {"bloom_filter": {"key_scope": "global"},
              "B": LinkageDomain("phone", "clk", ("global", "q2k20l1024"), "norm"),
              "text_B": "phone|clk:global:q2k20l1024|norm"},
}


@pytest.fixture(scope="module")
def result():
    scenarios = []
    for name, spec in EXPECTED.items():
        technique = next(k for k in spec if k not in ("B", "C", "text_B"))
        scenarios.append(lr.Scenario(name, {"phone": {"technique": technique, **spec[technique]}}))
    scenarios.append(lr.Scenario("dropped", {"phone": {"technique": "drop"}}))
    res = tiny_study(scenarios).run()
    yield res
    res.close()


def phone_columns(result, scenario: str) -> dict:
    s = result.baseline if scenario == "baseline" else result.scenario(scenario)
    return {c.dataset: c for c in s.release.columns if c.kind == "phone" and c.value_column is None}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_technique_declares_its_domain_as_a_value(name, result):
    spec = EXPECTED[name]
    cols = phone_columns(result, name)
    assert cols["B"].linkage == spec["B"]
    assert cols["B"].domain == spec["text_B"] == str(spec["B"])  # the text reports have always shown
    # per holder, C's column is in a domain of its own; shared or keyless, in B's
    assert cols["C"].linkage == spec.get("C", spec["B"])


def test_the_baseline_is_plaintext_and_a_dropped_column_has_no_domain(result):
    base = phone_columns(result, "baseline")
    assert base["B"].linkage == base["C"].linkage == LinkageDomain.plain("phone")
    assert base["B"].linkage.is_plain and base["B"].domain == "phone|plain"
    dropped = phone_columns(result, "dropped")
    assert dropped["B"].linkage is None and dropped["B"].domain is None
    assert not LinkageDomain("phone", "sha256", (), "norm").is_plain


def test_per_holder_keys_link_nothing_that_a_shared_domain_links(result):
    # B.phone and C.phone are one number (b2-c1, the baseline's phone link): one domain
    # (hash, shared key) keeps the link; a domain per holder cuts it
    def phone_pairs(name):
        rules = result.scenario(name).links.by_rule
        return int(rules.loc[rules["rule"] == "phone", "pairs"].sum())

    assert phone_pairs("hash") == 1 and phone_pairs("tokenised") == 1
    assert phone_pairs("keyed") == 0 and phone_pairs("random") == 0


def test_a_domain_is_a_frozen_value():
    a = LinkageDomain("email", "hmac", ("global",), "norm")
    assert a == LinkageDomain("email", "hmac", ["global"], "norm")  # params are kept as a tuple
    assert len({a, LinkageDomain("email", "hmac", ("global",), "norm")}) == 1
    assert a != LinkageDomain("email", "hmac", ("global",), "raw")  # another input form joins nothing
    assert a != LinkageDomain("phone", "hmac", ("global",), "norm")
    # a level given as a number and as text is one domain, as its text form always was
    assert LinkageDomain("dob", "generalise", (4,)) == LinkageDomain("dob", "generalise", ("4",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.function = "sha256"
    assert repr(a) == "LinkageDomain('email|hmac:global|norm')"
