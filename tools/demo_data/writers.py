"""Eight perspective writers: render one solved :class:`spec.Spec` in each perspective's reasoning style.

Every number comes from the solved symbol values (``env``); the problem-specific sentences (simpler case,
counterfactual twist, key constraint, rejected approach) are the hand-written parts of the spec. Wording varies
through a per-(problem, perspective) random choice among phrasings. Writers return the body; the build script
appends the canonical answer line.
"""

from __future__ import annotations

import ast
import random

from spec import Spec, fmt, run_steps, show


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def dsym(sym: str) -> str:
    """Display name of a symbol (common-knowledge symbols end in '_' internally)."""
    return sym.rstrip("_")


def num(expr: str, env: dict) -> str:
    return show(expr, env)


def symb(expr: str, spec: Spec) -> str:
    """The expression in symbols, with common-knowledge constants (60 minutes, 100 percent) as numbers."""
    return show(expr, {g.sym: g.value for g in spec.given if g.sym.endswith("_")})


def stated(spec: Spec):
    """Given quantities stated in the question (common-knowledge constants left out)."""
    return [g for g in spec.given if not g.sym.endswith("_")]


def with_unit(v, unit: str, label: str = "") -> str:
    """``"14 dollars"``; the unit is left out when the label already names it ("the time in hours")."""
    if unit and unit in label.split():
        unit = ""
    return f"{fmt(v)} {unit}".strip()


_WORDS = {
    ast.Add: ["{a} plus {b}", "{a} and {b} together", "{b} more on top of {a}"],
    ast.Sub: ["{a} minus {b}", "{a} less {b}", "{b} taken away from {a}"],
    ast.Mult: ["{a} times {b}", "{a} lots of {b}", "{a} groups of {b}"],
    ast.Div: ["{a} divided by {b}", "{a} split into {b} equal parts", "{a} shared {b} ways"],
}


def words(expr: str, env: dict, rng: random.Random) -> str:
    """Everyday wording of a one-operation expression; longer expressions fall back to the numbers."""
    node = ast.parse(expr, mode="eval").body
    leaf = (ast.Name, ast.Constant)
    if isinstance(node, ast.BinOp) and isinstance(node.left, leaf) and isinstance(node.right, leaf):
        a, b = show(ast.unparse(node.left), env), show(ast.unparse(node.right), env)
        options = _WORDS[type(node.op)]
        if isinstance(node.op, ast.Mult):
            if "." not in b and ("." in a or float(b) < float(a)):
                a, b = b, a  # "3 lots of 250": the count comes first
            if "." in a:
                options = options[:1]
        return rng.choice(options).format(a=a, b=b)
    return num(expr, env)


def formal(spec: Spec, env: dict, rng: random.Random) -> str:
    given = ", ".join(f"{dsym(g.sym)} = {fmt(g.value)} ({g.meaning})" for g in stated(spec))
    unknowns = "; ".join(f"{dsym(s.sym)} = {s.label}" for s in spec.steps)
    lines = [rng.choice(["Given: ", "Data: ", "Known quantities: "]) + given + ".",
             rng.choice(["Let ", "Define ", "Unknowns: "]) + unknowns + "."]
    for s in spec.steps:
        sym_e, num_e = symb(s.expr, spec), num(s.expr, env)
        lines.append(f"{dsym(s.sym)} = {sym_e} = {num_e} = {fmt(env[s.sym])}.")
    last = spec.steps[-1]
    lines.append(rng.choice(["Hence ", "Therefore ", "So "]) + f"{dsym(last.sym)} = {with_unit(env[last.sym], spec.unit, last.label)}.")
    return "\n".join(lines)


def intuitive(spec: Spec, env: dict, rng: random.Random) -> str:
    out = [rng.choice(["Think about it the everyday way.", "Picture the situation in real life.",
                       "No algebra needed; just follow the story.", "Reason it out the way you would in your head."])]
    joins = ["Then", "Next", "After that", "Now"]
    for i, s in enumerate(spec.steps):
        w, v = words(s.expr, env, rng), fmt(env[s.sym])
        pre = "" if i == 0 else rng.choice(joins) + ", "
        form = rng.choice(["{L} is {w}, which is {v}.", "{L}: {w} makes {v}.", "{L} comes to {v}, since that is {w}."])
        sent = form.format(L=s.label if pre else cap(s.label), w=w, v=v)
        out.append(pre + sent if pre else sent)
    last = spec.steps[-1]
    out.append(rng.choice(["So {l} is {v}.", "That gives {v} for {l}.", "So, in everyday terms, {l} is {v}."])
               .format(l=last.label, v=with_unit(env[last.sym], spec.unit, last.label)))
    return " ".join(out)


def decomposition(spec: Spec, env: dict, rng: random.Random) -> str:
    lines = [rng.choice(["Split the problem into smaller parts.", "Break it into sub-problems.",
                         "Divide the work into pieces and solve each one."])]
    facts = "; ".join(f"{g.meaning} = {fmt(g.value)}" for g in stated(spec))
    lines.append(f"1. {rng.choice(['Facts', 'What we know', 'Inputs'])}: {facts}.")
    form = rng.choice(["{k}. Find {l}: {e} = {v}.", "{k}. Sub-problem: {l}. {e} = {v}.", "{k}. Compute {l}: {e} = {v}."])
    for k, s in enumerate(spec.steps, start=2):
        lines.append(form.format(k=k, l=s.label, e=num(s.expr, env), v=fmt(env[s.sym])))
    last = spec.steps[-1]
    lines.append(f"{len(spec.steps) + 2}. {rng.choice(['Combine', 'Put together', 'Result'])}: "
                 f"{last.label} is {with_unit(env[last.sym], spec.unit, last.label)}.")
    return "\n".join(lines)


def planning(spec: Spec, env: dict, rng: random.Random) -> str:
    labels = [s.label for s in spec.steps]
    if len(labels) == 1:
        plan = f"Plan: compute {labels[0]} directly from the given numbers, then check it answers the question."
    elif rng.random() < 0.5:
        plan = "Plan: " + "; ".join(f"({i}) find {l}" for i, l in enumerate(labels, 1)) + "."
    else:
        plan = "Plan: first find " + ", then ".join(labels[:-1]) + f", and finally {labels[-1]}."
    lines = [plan, rng.choice(["Now carry out the plan.", "Execution:", "Carrying it out step by step:"])]
    for i, s in enumerate(spec.steps, 1):
        lines.append(f"Step {i}: {s.label} = {num(s.expr, env)} = {fmt(env[s.sym])}.")
    last = spec.steps[-1]
    lines.append(rng.choice(["The plan is complete: {l} is {v}.", "Every step of the plan is done, so {l} is {v}.",
                             "Plan finished; {l} is {v}."]).format(l=last.label, v=with_unit(env[last.sym], spec.unit, last.label)))
    return "\n".join(lines)


def _chain(spec: Spec, env: dict, sep: str = "; ") -> str:
    return sep.join(f"{s.label} is {num(s.expr, env)} = {fmt(env[s.sym])}" for s in spec.steps)


def analogy(spec: Spec, env: dict, rng: random.Random) -> str:
    phrase, over = spec.simple
    small = run_steps(spec, over)
    last = spec.steps[-1]
    first = rng.choice(["Start with a simpler version: {p}.", "Consider an easier case of the same kind: {p}.",
                        "It helps to look at a smaller twin of this problem: {p}."]).format(p=phrase)
    if spec.difficulty <= 3:
        calc = "There, " + ", then ".join(f"{num(s.expr, small)} = {fmt(small[s.sym])}" for s in spec.steps) + "."
    else:
        calc = f"There the same steps end with {last.label} equal to {fmt(small[last.sym])}."
    back = rng.choice(["Our problem has the same structure; only the numbers change, so map each step back:",
                       "The real problem works the same way, so map back to its numbers:",
                       "Same shape, real numbers. Back to the original:"])
    end = f"So, just as in the small case, {last.label} is {with_unit(env[last.sym], spec.unit, last.label)}."
    return " ".join([first, calc, back, _chain(spec, env) + ".", end])


def socratic(spec: Spec, env: dict, rng: random.Random) -> str:
    last = spec.steps[-1]
    out = [rng.choice(["What am I asked to find? {L}.", "What does the question want? {L}.",
                       "What is the goal? To find {l}."]).format(L=cap(last.label), l=last.label)]
    if len(spec.steps) > 1:
        out.append(rng.choice(["What do I need first? {L}.", "Where should I start? With {l}."]).format(
            L=cap(spec.steps[0].label), l=spec.steps[0].label))
    for i, s in enumerate(spec.steps):
        if i == len(spec.steps) - 1 and i > 0:
            q = rng.choice(["So what is {l}?", "Then what is {l}?"])
        else:
            q = rng.choice(["What is {l}?", "How much is {l}?", "How do I get {l}?"])
        out.append(q.format(l=s.label) + f" {num(s.expr, env)} = {fmt(env[s.sym])}.")
    out.append(rng.choice(["Does that answer the question? Yes: {l} is {v}.",
                           "Is anything missing? No, {l} is {v}."]).format(l=last.label, v=with_unit(env[last.sym], spec.unit, last.label)))
    return " ".join(out)


def contrastive(spec: Spec, env: dict, rng: random.Random) -> str:
    alt_expr, reason = spec.alt
    last = spec.steps[-1]
    a = rng.choice(["Approach A: {e} = {w}.", "Approach A (quick): compute {e} = {w}."]).format(
        e=num(alt_expr, env), w=fmt(env_eval(alt_expr, env)))
    b = rng.choice(["Approach B: follow the quantities in order: ", "Approach B: work step by step: "]) + _chain(spec, env) + "."
    judge = rng.choice(["Approach A is rejected because {r}.", "Eliminate Approach A: {r}.",
                        "Approach A fails, since {r}."]).format(r=reason)
    keep = rng.choice(["Approach B uses every fact with its real meaning, so keep it: {v}.",
                       "Keep Approach B, which gives {v}.", "Approach B is the best choice, giving {v}."]).format(
        v=with_unit(env[last.sym], spec.unit, last.label))
    return " ".join([rng.choice(["Compare two approaches.", "Two approaches come to mind.", "Weigh two ways of solving it."]),
                     a, b, judge, keep])


def env_eval(expr: str, env: dict):
    from spec import evaluate

    return evaluate(expr, env)


def counterfactual(spec: Spec, env: dict, rng: random.Random) -> str:
    over, phrase, constraint = spec.cf
    changed = run_steps(spec, over)
    last = spec.steps[-1]
    sym = next(iter(over))
    meaning = next(g.meaning for g in spec.given if g.sym == sym)
    out = [rng.choice(["Suppose {p}.", "Imagine instead that {p}.", "What if {p}?"]).format(p=phrase),
           f"Then {last.label} would be {with_unit(changed[last.sym], spec.unit, last.label)}.",
           rng.choice(["Changing the {m} from {a} to {b} changes the result, so the answer hinges on it.",
                       "So the {m} ({a} here, not {b}) directly drives the result."]).format(
               m=meaning, a=fmt(env[sym]), b=fmt(over[sym])),
           rng.choice(["The key constraint is that {c}.", "This points to the key constraint: {c}."]).format(c=constraint),
           rng.choice(["With the real conditions: ", "Now solve the actual case: "]) + _chain(spec, env) + ".",
           f"So {last.label} is {with_unit(env[last.sym], spec.unit, last.label)}."]
    return " ".join(out)


WRITERS = {"formal": formal, "intuitive": intuitive, "decomposition": decomposition, "planning": planning,
           "analogy": analogy, "socratic": socratic, "contrastive": contrastive, "counterfactual": counterfactual}
