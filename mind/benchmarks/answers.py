"""Final-answer extraction and checking for free model output.

One module shared by the teacher judge, evaluation and the data integrity tests.

* :func:`extract_answer` finds the final answer in messy text and normalises it: numbers become plain strings
  (``"72"``, ``"-3.5"``, ``"3/4"``), choices an upper-case letter, yes/no ``"yes"``/``"no"``, math the LaTeX or
  expression string. It returns ``None`` when nothing can be extracted and never raises on odd text.
* :func:`answers_equal` compares an extracted answer with a gold answer (numbers with a small tolerance, math with
  the ``math-verify`` library and a normalised string fallback).
* :func:`check_answer` is both in one call.

Precedence, highest first: an explicit answer (``\\boxed{...}``, ``#### N``, "The answer is ...", "Final answer:",
"Answer:"; when there are several, the last one that holds a usable answer wins, except that for math a
``\\boxed{}`` always wins), then type-specific fallbacks:
bold markdown for numbers, a lone or parenthesised letter (or the option text) for choices, a leading
"Yes,"/"No." for yes/no, and last of all the last number / last yes-no word in the text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from decimal import Decimal, InvalidOperation
from fractions import Fraction

ANSWER_TYPES = ("number", "math", "choice", "yesno", "text")
DEFAULT_LETTERS = "ABCDE"
REL_TOL = 1e-6  # relative tolerance for numeric equality (72 == 72.0 == "72.00")
ABS_TOL = 1e-9

_MARKER_RE = re.compile(
    r"####(?=[ \t]*[-$\d.,/]+[ \t]*(?:\n|$))|\b(?:final\s+answer|correct\s+(?:answer|option|choice)|answer)"
    r"(?:\s+to\s+(?:the|this)\s+(?:question|problem))?"
    r"\s*(?:(?:is|would\s+be|should\s+be|will\s+be|must\s+be|=)\b\s*:?|[:=])",
    re.I,
)
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOLD_RE = re.compile(r"\*\*(.+?)\*\*", re.S)
_NUMBER_RE = re.compile(
    r"(?<![\w.])-?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?![\w])"
    r"|(?<![\w.])-?\$?\.\d+"
)
_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_YESNO_RE = re.compile(r"\b(yes|no|true|false)\b", re.I)
_WORD_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
).split()  # "The answer is three." (only right after an answer phrase)
_YESNO_MAP = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}


# ----------------------------------------------------------------------------------------------- helpers


def _clean(text: str) -> str:
    """Unify minus signs and dollar escapes, drop LaTeX thousands braces and markdown bold markers."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2212", "-").replace("\u2013", "-").replace("\\$", "$").replace("{,}", ",")
    return text.replace("\\%", "%").replace("\\!", "")


def _boxed_contents(text: str) -> list[tuple[int, str]]:
    """(position, content) of every ``\\boxed{...}`` with balanced braces."""
    out = []
    for m in _BOXED_RE.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append((m.start(), text[m.end() : i - 1].strip()))
    return out


def _explicit_spans(text: str) -> list[tuple[int, str]]:
    """(position, text after it) for every explicit answer marker, in order of position.

    A marker's span is the rest of its line; when that is empty (``Final answer:\\n18``) the next non-empty line.
    """
    spans = _boxed_contents(text)
    for m in _MARKER_RE.finditer(text):
        rest = text[m.end() :]
        line, _, after = rest.partition("\n")
        if not line.strip():
            line = next((ln for ln in after.split("\n") if ln.strip()), "")
        spans.append((m.start(), line.strip()))
    return sorted(spans, key=lambda s: s[0])


def normalize_number(token: str) -> str | None:
    """``"$1,000.50"`` -> ``"1000.5"``, ``"72.00"`` -> ``"72"``, ``"6/8"`` -> ``"3/4"``; None if not a number."""
    s = _clean(str(token)).strip().replace(",", "").replace("$", "").replace(" ", "").rstrip("%").rstrip(".")
    m = _FRAC_RE.fullmatch(s)
    if m:
        s = f"{m.group(1)}/{m.group(2)}"
    neg = s.startswith("-")
    body = s.lstrip("+-")
    try:
        if "/" in body:
            num, den = body.split("/")
            value = Fraction(int(num), int(den))
            if value.denominator != 1:
                return f"{'-' if neg else ''}{value.numerator}/{value.denominator}"
            out = str(value.numerator)
        else:
            d = Decimal(body)
            if not d.is_finite() or abs(d.adjusted()) > 1000:  # "1e999999999" would print a billion digits
                return None
            out = f"{d:f}"
            if "." in out:
                out = out.rstrip("0").rstrip(".")
            out = out.lstrip("0") or "0"
            if out.startswith("."):
                out = "0" + out
    except (ValueError, ZeroDivisionError, InvalidOperation):
        return None
    return out if not neg or out == "0" else "-" + out


def _to_fraction(value: str | None) -> Fraction | None:
    norm = normalize_number(value) if value is not None else None
    return Fraction(norm) if norm is not None else None


def _close(p: Fraction, g: Fraction) -> bool:
    """Numeric equality with a relative tolerance, in exact arithmetic (no float overflow on huge numbers)."""
    return p == g or abs(p - g) <= Fraction(REL_TOL) * max(abs(p), abs(g)) + Fraction(ABS_TOL)


def _first_number(span: str) -> str | None:
    span = _FRAC_RE.sub(r"\1/\2", span)
    for m in _NUMBER_RE.finditer(span):
        norm = normalize_number(m.group())
        if norm is not None:
            return norm
    return None


_CHAIN_RE = re.compile(r"^(?:[\s$\d.,+\-*/×÷x()]+=)+")


def _span_number(span: str) -> str | None:
    """The number an answer span states: in its first sentence, after a leading "9 * 2 =" chain if any."""
    sentence = re.split(r"\.(?:\s|$)", span, maxsplit=1)[0]
    chain = _CHAIN_RE.match(sentence)
    if chain and _first_number(sentence[chain.end() :]) is not None:
        return _first_number(sentence[chain.end() :])
    found = _first_number(sentence)
    if found is None:
        word = re.match(r"\W*([a-z]+)\b", sentence, re.I)
        if word and word.group(1).lower() in _WORD_NUMBERS:
            return str(_WORD_NUMBERS.index(word.group(1).lower()))
    return found


def _last_number(text: str) -> str | None:
    text = _FRAC_RE.sub(r"\1/\2", text)
    for m in reversed(list(_NUMBER_RE.finditer(text))):
        norm = normalize_number(m.group())
        if norm is not None:
            return norm
    return None


def _first_yesno(span: str) -> str | None:
    m = _YESNO_RE.search(span)
    return _YESNO_MAP[m.group(1).lower()] if m else None


def _math_span(span: str) -> str | None:
    """The expression at the start of an answer span: ``$...$`` / ``\\(...\\)`` if present, else up to the sentence end."""
    span = span.strip()
    for pat in (r"\$\$(.+?)\$\$", r"\$(.+?)\$", r"\\\((.+?)\\\)", r"\\\[(.+?)\\\]"):
        m = re.search(pat, span, re.S)
        if m and m.group(1).strip():
            return m.group(1).strip().rstrip(".").strip()
    span = re.split(r"\.(?:\s|$)", span, maxsplit=1)[0].strip()
    return span.rstrip(".,;").strip() or None


# ----------------------------------------------------------------------------------------------- choices


def _letters(choices: list[str] | tuple[str, ...] | None) -> str:
    return "ABCDEFGHIJ"[: len(choices)] if choices and len(choices) > 0 else DEFAULT_LETTERS


def _letter_at_start(span: str, letters: str) -> str | None:
    """A choice letter at the start of an answer span ("(B) library", "C.", "b"); a lower-case letter counts only
    when nothing but punctuation follows it, so "a bank" is not read as option A."""
    span = span.strip().lstrip("*_ ")
    m = re.match(r"(?:(?:option|choice|letter)\s*)?[\(\[]?\s*([A-Za-z])\s*[\)\]]?(?P<tail>.*)$", span, re.I | re.S)
    if not m or m.group(1).upper() not in letters:
        return None
    letter, tail = m.group(1), m.group("tail")
    if tail[:1].isalnum() and not span[:1] in "([":
        return None  # part of a word: "bank", "Because"
    if letter.islower() and re.match(r"\s*\w", tail) and not span[:1] in "([":
        return None  # "a bank": an article, not an option
    return letter.upper()


def _option_in(span: str, choices, letters: str) -> str | None:
    """The letter of the option text mentioned first in ``span`` (longest text wins a tie)."""
    best = None
    for i, opt in enumerate(choices or ()):
        opt = str(opt).strip()
        if not opt:
            continue
        m = re.search(r"(?<!\w)" + re.escape(opt) + r"(?!\w)", span, re.I)
        if m and (best is None or (m.start(), -len(opt)) < best[:2]):
            best = (m.start(), -len(opt), letters[i])
    return best[2] if best else None


def _extract_choice(text: str, choices) -> str | None:
    letters = _letters(choices)
    for _, span in reversed(_explicit_spans(text)):
        found = _letter_at_start(span, letters) or (_option_in(span, choices, letters) if choices else None)
        if found:
            return found
    whole = _letter_at_start(text, letters)
    if whole and len(text.strip()) <= 4:
        return whole
    # a parenthesised / line-leading letter, skipping restated options such as "(B) library"
    pat = re.compile(r"\(([A-J])\)|^\s*([A-J])[\).:](?=\s|$)", re.M)
    for m in reversed(list(pat.finditer(text))):
        letter = m.group(1) or m.group(2)
        if letter not in letters:
            continue
        if choices:
            opt = str(choices[letters.index(letter)]).strip()
            if opt and text[m.end() :].lstrip(" :.-").lower().startswith(opt.lower()):
                continue
        return letter
    if choices:  # the option text mentioned last
        best = None
        for i, opt in enumerate(choices):
            opt = str(opt).strip()
            for m in re.finditer(r"(?<!\w)" + re.escape(opt) + r"(?!\w)", text, re.I) if opt else ():
                if best is None or m.end() > best[0]:
                    best = (m.end(), letters[i])
        return best[1] if best else None
    return None


# ----------------------------------------------------------------------------------------------- public API


def extract_answer(text: str, answer_type: str = "number", choices: list[str] | None = None) -> str | None:
    """The final answer in free model output, normalised; None when none can be found.

    ``answer_type``: ``number`` (plain number string), ``math`` (LaTeX / expression string), ``choice``
    (upper-case letter; ``choices`` are the option texts in letter order, used to match an answer given as text),
    ``yesno`` (``"yes"``/``"no"``), ``text`` (the explicit answer span, else the last line).
    An unknown ``answer_type`` is treated as ``text``.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    text = _clean(text)
    if answer_type == "choice":
        return _extract_choice(text, list(choices) if choices else None)
    spans = _explicit_spans(text)
    if answer_type == "number":
        for _, span in reversed(spans):
            found = _span_number(span)
            if found is not None:
                return found
        for m in reversed(list(_BOLD_RE.finditer(text))):
            found = _first_number(m.group(1))
            if found is not None:
                return found
        return _last_number(text)
    if answer_type == "yesno":
        for _, span in reversed(spans):
            found = _first_yesno(span.replace("*", ""))
            if found:
                return found
        lead = re.match(r"\W*(yes|no|true|false)\b\s*[,.!;:]", text, re.I)
        if lead:
            return _YESNO_MAP[lead.group(1).lower()]
        words = _YESNO_RE.findall(text)
        return _YESNO_MAP[words[-1].lower()] if words else None
    if answer_type == "math":  # \boxed{} first (MATH convention), then the last answer phrase
        boxed = [s for _, s in _boxed_contents(text) if s]
        if boxed:
            return boxed[-1]
        for _, span in reversed(spans):
            found = _math_span(span.replace("**", ""))
            if found:
                return found
        dollars = re.findall(r"\$([^$]+)\$", text)
        if dollars:
            return dollars[-1].strip()
        return _last_number(text)
    for _, span in reversed(spans):  # text
        if span.strip(" .*"):
            return span.strip(" .*")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else None


def _norm_text(s: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", unicodedata.normalize("NFKC", s).casefold()).split())


def _norm_latex(s: str) -> str:
    s = _clean(s).strip().strip("$").strip()
    s = re.sub(r"\\(?:left|right|displaystyle|,|;|:| )", "", s)
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\\text\{(.*?)\}|\\mathrm\{(.*?)\}", lambda m: m.group(1) or m.group(2) or "", s)
    s = s.replace("^\\circ", "").replace("^{\\circ}", "").rstrip(".")
    return re.sub(r"\s+", "", s)


def _math_verify_equal(pred: str, gold: str) -> bool:
    from math_verify import parse, verify

    # math-verify times out with signal.alarm, which only works in the main thread (Streamlit runs scripts in others)
    main = threading.current_thread() is threading.main_thread()
    timeout = 5 if main else None

    def wrap(s: str) -> str:
        return s if ("$" in s or "\\boxed" in s or "\\(" in s) else f"${s}$"

    g = parse(wrap(gold), parsing_timeout=timeout)
    p = parse(wrap(pred), parsing_timeout=timeout)
    return bool(g and p and verify(g, p, timeout_seconds=timeout))


def answers_equal(pred: str | None, gold: str, answer_type: str = "number") -> bool:
    """Whether an extracted answer equals the gold answer (False when ``pred`` is None)."""
    if pred is None or gold is None:
        return False
    pred, gold = str(pred).strip(), str(gold).strip()
    if answer_type == "number":
        p, g = _to_fraction(pred), _to_fraction(gold)
        if g is None:
            g = _to_fraction(extract_answer(gold, "number"))
        if p is None or g is None:
            return _norm_text(pred) == _norm_text(gold) != ""
        return _close(p, g)
    if answer_type == "choice":
        letters = "ABCDEFGHIJ"
        p, g = _letter_at_start(pred, letters), _letter_at_start(gold, letters)
        return p is not None and p == g
    if answer_type == "yesno":
        p, g = _first_yesno(pred), _first_yesno(gold)
        return p is not None and p == g
    if answer_type == "math":
        if _norm_latex(pred) == _norm_latex(gold) != "":
            return True
        p, g = _to_fraction(pred), _to_fraction(gold)
        if p is not None and g is not None:
            return _close(p, g)
        try:
            return _math_verify_equal(pred, gold)
        except Exception:  # noqa: BLE001 - a parser failure means "not shown equal", never a crash
            return False
    return _norm_text(pred) == _norm_text(gold) != ""


def check_answer(text: str, gold: str, answer_type: str = "number", choices: list[str] | None = None) -> bool:
    """Extract the final answer from ``text`` and compare it with ``gold``.

    For choice questions a gold given as option text (not a letter) is mapped to its letter via ``choices``.
    """
    pred = extract_answer(text, answer_type, choices)
    if answer_type == "choice" and choices and _letter_at_start(str(gold), _letters(choices)) is None:
        mapped = _option_in(str(gold), choices, _letters(choices))
        gold = mapped or gold
    return answers_equal(pred, gold, answer_type)
