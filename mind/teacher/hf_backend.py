"""A local transformers causal LM as the teacher, with batched generation.

Prompts are rendered with the tokenizer's chat template (a plain ``System:/User:/Assistant:`` transcript when
the tokenizer has none), left-padded so that every row's new tokens start at the same position, and decoded
from that position on. ``hf:smollm2-135m`` resolves to the embedded SmolLM2-135M-Instruct
(:func:`mind.model.embedded.smollm2_path`); any other value is a local folder or, when online, a hub id.
Greedy decoding by default (``temperature=0``); sampling is seeded.
"""

from __future__ import annotations

from pathlib import Path

from mind.errors import BackendError, ConfigError
from mind.teacher.completion import Completion

EMBEDDED_ALIASES = ("smollm2-135m", "smollm2", "embedded")


def resolve_model_path(model: str) -> str:
    """Map the embedded alias to its folder; leave folders and hub ids as they are."""
    if model.lower() in EMBEDDED_ALIASES:
        try:
            from mind.model.embedded import smollm2_path
        except ImportError as exc:
            raise BackendError(f"hf:{model}: the embedded model module is unavailable ({exc}); pass a model folder") from None
        return str(smollm2_path())
    return model


def _plain_transcript(messages: list[dict]) -> str:
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    return "\n\n".join(lines) + "\n\nAssistant:"


class HFBackend:
    """Batched greedy/sampled generation with a local ``AutoModelForCausalLM``."""

    concurrent = False

    def __init__(self, model: str, max_tokens: int = 512, temperature: float = 0.0, batch_size: int = 8,
                 device: str | None = None, seed: int = 0):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ConfigError(f"--batch-size {batch_size}: must be >= 1")
        if max_tokens <= 0:
            raise ConfigError(f"--max-tokens {max_tokens}: must be > 0")
        self.name = f"hf:{model}"
        self.batch_size = int(batch_size)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.params = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        path = resolve_model_path(model)
        if not Path(path).is_dir() and (path.startswith((".", "/", "~")) or Path(path).suffix):
            raise ConfigError(f"--teacher hf:{model}: folder {path} does not exist; pass a model folder or hub id")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(self.device).eval()
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise BackendError(
                f"--teacher hf:{model}: cannot load the model ({first}); pass a folder with config.json and "
                "tokenizer files, or a hub id while online"
            ) from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            if self.tokenizer.eos_token_id is None:
                raise BackendError(f"--teacher hf:{model}: the tokenizer has neither a pad nor an eos token")
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._torch = torch

    def render(self, messages: list[dict]) -> str:
        """The prompt text for one conversation, ending where the assistant's reply begins."""
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            try:
                return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            except Exception:  # noqa: BLE001 - some templates reject a system role; merge it into the user turn
                if messages and messages[0]["role"] == "system" and len(messages) > 1:
                    merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
                    return tok.apply_chat_template(merged + messages[2:], tokenize=False, add_generation_prompt=True)
                raise
        return _plain_transcript(messages)

    def generate(self, batch: list[list[dict]]) -> list[Completion]:
        """Generate replies for up to ``batch_size`` conversations at once."""
        torch = self._torch
        out: list[Completion] = []
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start:start + self.batch_size]
            texts = [self.render(m) for m in chunk]
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            sample = self.temperature > 0
            kwargs = {"max_new_tokens": self.max_tokens, "do_sample": sample,
                      "pad_token_id": self.tokenizer.pad_token_id}
            if sample:
                kwargs["temperature"] = self.temperature
                torch.manual_seed(self.seed)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            with torch.no_grad():
                ids = self.model.generate(**enc, **kwargs)
            width = enc["input_ids"].shape[1]
            for row in range(len(chunk)):
                new = ids[row, width:].tolist()
                n, reason = self._length(new)
                text = self.tokenizer.decode(new[:n], skip_special_tokens=True)
                prompt_tokens = int(enc["attention_mask"][row].sum())
                out.append(Completion(text.strip(), prompt_tokens, n, reason))
        return out

    def _length(self, new: list[int]) -> tuple[int, str]:
        """Number of real generated tokens (through the first eos) and the finish reason."""
        eos = self.tokenizer.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        eos_ids |= set(gen_eos if isinstance(gen_eos, list) else [gen_eos]) - {None}
        for i, t in enumerate(new):
            if t in eos_ids:
                return i + 1, "stop"
        pad = self.tokenizer.pad_token_id
        n = len(new)
        while n and new[n - 1] == pad and pad not in eos_ids:
            n -= 1
        return n, "length" if n >= self.max_tokens else "stop"
