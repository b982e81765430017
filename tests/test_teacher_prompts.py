"""The perspective prompts, request hashing, and `mind perspectives`."""

from __future__ import annotations

import json

import pytest

from mind.cli import main
from mind.errors import ConfigError
from mind.data.perspectives import DEFAULT_IDS, Perspective
from mind.teacher.pipeline import resolve_perspectives
from mind.teacher.prompts import (
    PERSPECTIVE_PROMPTS,
    TEACHER_SYSTEM,
    build_messages,
    default_perspectives,
    format_choices,
    prompts_hash,
    request_hash,
)

STYLE_MARKERS = {  # a word each instruction must contain that names its own style
    "formal": "equations", "intuitive": "everyday", "decomposition": "numbered", "planning": "Plan:",
    "analogy": "simpler", "socratic": "Q:", "contrastive": "Compare", "counterfactual": "what would happen",
}


def test_one_distinct_prompt_per_default_perspective():
    ps = default_perspectives()
    assert [p.id for p in ps] == list(DEFAULT_IDS)
    assert set(PERSPECTIVE_PROMPTS) == set(DEFAULT_IDS)
    assert len({p.prompt for p in ps}) == 8
    for p in ps:
        assert p.prompt.startswith(f"Reasoning style: {p.name}.")
        assert STYLE_MARKERS[p.id] in p.prompt, p.id
        assert len(p.prompt.split()) >= 40, f"{p.id} prompt is too thin"


def test_messages_ask_for_the_canonical_answer_line_and_style():
    p = default_perspectives()[3]
    msgs = build_messages(p, "What is 2 plus 3?")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"] == TEACHER_SYSTEM and "The answer is <answer>." in TEACHER_SYSTEM
    user = msgs[1]["content"]
    assert p.prompt in user and "Problem:\nWhat is 2 plus 3?" in user
    assert user.rstrip().endswith("The answer is <answer>.")
    choice = build_messages(p, "Pick one.", "choice", ["red", "blue"])[1]["content"]
    assert "(A) red\n(B) blue" in choice and "letter of the correct option" in choice


def test_format_choices_accepts_the_usual_shapes():
    assert format_choices(["x", "y"]) == "(A) x\n(B) y"
    assert format_choices([{"label": "C", "text": "z"}]) == "(C) z"
    assert format_choices({"D": "w"}) == "(D) w"
    assert format_choices(None) == "" and format_choices(()) == ""


def test_request_hash_changes_with_prompt_and_params():
    ps = default_perspectives()
    a = build_messages(ps[0], "What is 2 plus 3?")
    params = {"max_tokens": 10, "temperature": 0.0}
    assert request_hash(a, params) == request_hash(build_messages(ps[0], "What is 2 plus 3?"), dict(params))
    assert request_hash(a, params) != request_hash(build_messages(ps[1], "What is 2 plus 3?"), params)
    assert request_hash(a, params) != request_hash(a, {"max_tokens": 11, "temperature": 0.0})
    assert prompts_hash(ps) != prompts_hash(ps[:-1])


def test_user_perspective_file_fills_missing_prompts(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps([{"id": "formal", "name": "F"}, {"id": "mine", "name": "Mine", "style": "s",
                                                              "prompt": "Reason backwards."}]))
    ps = resolve_perspectives(str(f))
    assert ps[0].prompt == PERSPECTIVE_PROMPTS["formal"] and ps[1].prompt == "Reason backwards."
    f.write_text(json.dumps([{"id": "formal"}, {"id": "nameless"}]))
    with pytest.raises(ConfigError, match="'nameless' has no 'prompt'"):
        resolve_perspectives(str(f))


def test_cli_lists_perspectives_as_text_and_json(capsys, tmp_path):
    assert main(["perspectives"]) == 0
    text = capsys.readouterr().out
    for p in default_perspectives():
        assert f"{p.id}  ({p.name})" in text
    assert "8 perspectives, prompts hash" in text
    assert main(["perspectives", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == list(DEFAULT_IDS)
    assert all(set(r) == {"id", "name", "style", "prompt"} and r["prompt"] for r in rows)
    f = tmp_path / "p.yaml"
    f.write_text("- {id: a1, name: A, style: sa, prompt: pa}\n- {id: b1, name: B, style: sb, prompt: pb}\n")
    assert main(["perspectives", "--json", "--perspectives", str(f)]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"id": "a1", "name": "A", "style": "sa", "prompt": "pa"}, {"id": "b1", "name": "B", "style": "sb", "prompt": "pb"}]
    assert main(["perspectives", "--perspectives", str(tmp_path / "missing.json")]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_perspective_dataclass_default_prompt_is_empty():
    assert Perspective("x", "X", "s").prompt == ""
