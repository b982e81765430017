"""The models and their numerics: the student LM (LoRA or full), MetaNet (the Teaching Assistant), the frozen
Sentence-BERT encoder, the embedded default weights, batching of multi-perspective problems, the loss functions,
precision and thread choices, checkpoints (written by training, read by evaluation and export), and the student's
teacher-forced passes.

Modules: ``student``, ``metanet``, ``encoder``, ``embedded``, ``batching``, ``losses``, ``forward``, ``precision``,
``threads``, ``checkpoint``. Names load lazily (torch is imported on first use).
"""

from __future__ import annotations

from mind._lazy import lazy_face

__getattr__, __dir__, __all__ = lazy_face(__name__, {
    "StudentLM": "mind.model.student",
    "load_student": "mind.model.student",
    "load_causal_lm": "mind.model.student",
    "load_tokenizer": "mind.model.student",
    "add_lora": "mind.model.student",
    "MetaNet": "mind.model.metanet",
    "encode_texts": "mind.model.encoder",
    "smollm2_path": "mind.model.embedded",
    "minilm_path": "mind.model.embedded",
    "save_checkpoint": "mind.model.checkpoint",
    "load_checkpoint": "mind.model.checkpoint",
    "latest_checkpoint": "mind.model.checkpoint",
    "apply_checkpoint": "mind.model.checkpoint",
})
