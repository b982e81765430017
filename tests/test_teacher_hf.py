"""The local transformers backend on a tiny randomly initialised model built in the test (and, slow, the
embedded SmolLM2 as a smoke test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mind.errors import BackendError
from mind.teacher.cache import ResponseCache
from mind.teacher.downsample import DownsampleConfig
from mind.teacher.hf_backend import HFBackend
from mind.teacher.pipeline import GenerateConfig, generate
from mind.teacher.prompts import TEACHER_SYSTEM, build_messages, default_perspectives

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer Llama (hidden 32) with a byte-level BPE tokenizer trained on the prompts, saved to a folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-teacher")
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [TEACHER_SYSTEM] + [p.prompt for p in default_perspectives()] + ["What is 12 plus 30? The answer is 42."]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      initializer_range=0.5, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                      pad_token_id=fast.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder


def _convs(n: int):
    ps = default_perspectives()
    return [build_messages(ps[i % 8], "What is 12 plus 30?" + " Think." * i) for i in range(n)]


def test_batched_left_padded_generation_equals_one_by_one(tiny_model):
    be = HFBackend(str(tiny_model), max_tokens=6, batch_size=4, device="cpu")
    assert be.tokenizer.padding_side == "left" and be.render(_convs(1)[0]).endswith("<|assistant|>")
    convs = _convs(3)
    batched = be.generate(convs)
    single = [be.generate([c])[0] for c in convs]
    assert [c.text for c in batched] == [c.text for c in single]
    assert [c.prompt_tokens for c in batched] == [c.prompt_tokens for c in single]
    assert len({c.prompt_tokens for c in batched}) == 3  # different lengths really were padded
    assert all(0 < c.completion_tokens <= 6 for c in batched)


def test_hf_teacher_through_the_pipeline_and_cache(tiny_model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} plus 2?", "answer": str(i + 2)}) + "\n"
                           for i in range(3)))
    pfile = tmp_path / "p.json"
    pfile.write_text(json.dumps([{"id": "formal"}, {"id": "socratic"}]))
    cfg = GenerateConfig(dataset=str(src), out=tmp_path / "out.jsonl", teacher=f"hf:{tiny_model}",
                         perspectives_file=str(pfile), max_tokens=5, batch_size=4, progress=False,
                         downsample=DownsampleConfig(easy_keep=1.0))
    card = generate(cfg)
    assert card["teacher"] == f"hf:{tiny_model}" and card["rationales_generated"] == 6
    assert card["requests"]["sent"] == 6 and 0 < card["tokens"]["teacher"]["completion"] <= 30
    dropped = sum(card["dropped_by_reason"].values())
    assert card["rationales_kept"] + dropped == 6 and card["api_key_env"] is None
    with ResponseCache(tmp_path / "out.cache.jsonl") as c:
        assert len(c.records("teacher")) == 6
    assert generate(cfg)["requests"]["sent"] == 0  # the rerun generates nothing


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="does not exist|cannot load"):
        HFBackend(str(tmp_path / "nope"))
    with pytest.raises(BackendError, match="cannot load the model"):
        HFBackend(str(tmp_path))  # exists, but holds no model


@pytest.mark.slow
def test_embedded_smollm2_smoke(tmp_path):
    be = HFBackend("smollm2-135m", max_tokens=12, batch_size=2, device="cpu")
    out = be.generate([build_messages(p, "Tom has 2 apples and buys 3 more. How many apples does he have?")
                       for p in default_perspectives()[:2]])
    assert len(out) == 2 and all(c.text.strip() and 0 < c.completion_tokens <= 12 for c in out)
    assert all(c.prompt_tokens > 150 for c in out)  # the chat template wrapped system + perspective prompt
