"""Structured demo problems: given quantities, named solution steps, and the hand-written problem-specific parts.

A problem is authored once with :func:`P`; every number in every rationale is then *computed* from this
structure with exact fractions, never typed twice. :func:`solve` evaluates the steps, checks that every
intermediate value is a "nice" grade-school number and that the last step equals the hand-written gold.

Given quantities are written ``"n=3 notebooks; p=4 price of one notebook"`` (symbol, value, meaning); a symbol
ending in ``_`` is common knowledge not stated as a digit in the question (``h_=60 minutes in an hour``).
Steps are written ``"c = n * p : the cost of the notebooks"`` (symbol, expression over earlier symbols, label).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Given:
    sym: str
    value: Fraction
    meaning: str


@dataclass(frozen=True)
class Step:
    sym: str
    expr: str
    label: str


@dataclass(frozen=True)
class Spec:
    """One authored problem. ``simple``/``cf``/``alt`` feed the analogy, counterfactual and contrastive writers."""

    topic: str
    question: str
    given: tuple[Given, ...]
    steps: tuple[Step, ...]
    answer: Fraction
    unit: str
    simple: tuple[str, dict]  # (phrase naming the simpler case, overrides of given values)
    cf: tuple[dict, str, str]  # (overrides, phrase "the pen were free", key-constraint sentence)
    alt: tuple[str, str]  # (expression of a tempting wrong approach, reason it is rejected)

    @property
    def difficulty(self) -> int:
        return len(self.steps)


def _num(text: str) -> Fraction:
    return Fraction(text)


def _assignments(text: str) -> dict:
    out = {}
    for part in text.split():
        sym, _, val = part.partition("=")
        out[sym.strip()] = _num(val)
    return out


def P(topic, question, given, steps, answer, unit, simple, cf, alt) -> Spec:
    """Author a problem compactly (see the module docstring for the mini-syntax)."""
    gs = []
    for part in given.split(";"):
        head, _, meaning = part.strip().partition(" ")
        sym, _, val = head.partition("=")
        gs.append(Given(sym, _num(val), meaning.strip()))
    st = []
    for line in steps:
        lhs, _, rest = line.partition("=")
        expr, _, label = rest.partition(":")
        st.append(Step(lhs.strip(), expr.strip(), label.strip()))
    return Spec(topic, question.strip(), tuple(gs), tuple(st), _num(str(answer)), unit,
                (simple[0], _assignments(simple[1])), (_assignments(cf[0]), cf[1], cf[2]), alt)


def fmt(x: Fraction) -> str:
    """Exact decimal text of a value: ``12``, ``2.5``, ``0.75``; raises if it is not a short decimal."""
    x = Fraction(x)
    if x.denominator == 1:
        return str(x.numerator)
    for places in (1, 2, 3):
        scaled = x * 10**places
        if scaled.denominator == 1:
            s = f"{abs(scaled.numerator) // 10**places}.{abs(scaled.numerator) % 10**places:0{places}d}"
            return ("-" if x < 0 else "") + s
    raise ValueError(f"{x} is not a short decimal")


_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: a / b}


def evaluate(expr: str, env: dict) -> Fraction:
    """Exact value of ``expr`` (+ - * / and parentheses over numbers and symbols in ``env``)."""

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return Fraction(str(node.value))
        raise ValueError(f"unsupported expression part in {expr!r}")

    return ev(ast.parse(expr, mode="eval"))


class _Sub(ast.NodeTransformer):
    def __init__(self, values: dict):
        self.values = values

    def visit_Name(self, node):
        if node.id in self.values:
            return ast.Name(id=fmt(self.values[node.id]))
        return node


def show(expr: str, values: dict) -> str:
    """``expr`` with the symbols in ``values`` replaced by their numbers: ``"c + pen"`` -> ``"12 + 2"``."""
    tree = _Sub(values).visit(ast.parse(expr, mode="eval"))
    return ast.unparse(tree)


def symbols(expr: str) -> list[str]:
    return [n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name)]


def is_nice(x: Fraction) -> bool:
    try:
        fmt(x)
    except ValueError:
        return False
    return True


def run_steps(spec: Spec, overrides: dict | None = None) -> dict:
    """Values of all symbols (givens then steps), with some given values replaced by ``overrides``."""
    env = {g.sym: g.value for g in spec.given}
    env.update(overrides or {})
    for s in spec.steps:
        env[s.sym] = evaluate(s.expr, env)
    return env


def solve(spec: Spec) -> dict:
    """Evaluate and verify a problem; returns the symbol values. Raises AssertionError naming the flaw."""
    q = spec.question
    syms = [g.sym for g in spec.given] + [s.sym for s in spec.steps]
    assert len(set(syms)) == len(syms), f"duplicate symbols in {q[:50]}"
    assert 1 <= spec.difficulty <= 6, f"{spec.difficulty} steps in {q[:50]}"
    for g in spec.given:
        if not g.sym.endswith("_"):
            forms = {fmt(g.value), f"{float(g.value):.2f}"}
            pats = [r"(?<![\d.])" + re.escape(f) + r"(?![\d]|\.\d)" for f in forms]
            found = any(re.search(p, q.replace(",", "")) for p in pats)
            assert found, f"given {g.sym}={fmt(g.value)} not stated in {q[:60]!r}"
    used = set()
    for s in spec.steps:
        used.update(symbols(s.expr))
    unused = [g.sym for g in spec.given if g.sym not in used]
    assert not unused, f"givens {unused} unused in {q[:50]}"
    env = run_steps(spec)
    for s in spec.steps:
        assert is_nice(env[s.sym]) and env[s.sym] >= 0, f"step {s.sym}={env[s.sym]} not nice in {q[:50]}"
    final = env[spec.steps[-1].sym]
    assert final == spec.answer, f"computed {fmt(final)} != gold {fmt(spec.answer)} in {q[:60]!r}"
    for name, over in (("simple", spec.simple[1]), ("cf", spec.cf[0])):
        assert over and set(over) <= {g.sym for g in spec.given}, f"{name} overrides {over} unknown in {q[:50]}"
        alt_env = run_steps(spec, over)
        for s in spec.steps:
            assert is_nice(alt_env[s.sym]) and alt_env[s.sym] >= 0, f"{name}: {s.sym} not nice in {q[:50]}"
    assert run_steps(spec, spec.cf[0])[spec.steps[-1].sym] != final, f"cf does not change the answer in {q[:50]}"
    wrong = evaluate(spec.alt[0], env)
    assert is_nice(wrong) and wrong != final, f"alt approach gives the gold in {q[:50]}"
    return env
