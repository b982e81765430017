"""MetaNet, the "Teaching Assistant": scores how well each of the K rationales of a problem fits the student now.

(1) Feature alignment: frozen Sentence-BERT features of (question, rationale) -> MLP, plus a learned perspective
embedding. (2) Synergy layer: multi-head self-attention across the K rationale vectors, concatenated with its input
and mixed by a linear layer (switch off for the "no-attention" ablation). (3) Inertia scoring heads: one small MLP
per perspective; a softplus (or sigmoid) makes the score positive so that the selection threshold beta * max(s)
is meaningful.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MetaNet(nn.Module):
    def __init__(self, feature_dim: int, n_perspectives: int, hidden: int = 128, heads: int = 4,
                 attention: bool = True, score: str = "softplus", dropout: float = 0.0):
        super().__init__()
        self.n_perspectives = n_perspectives
        self.use_attention = attention
        self.score_fn = score
        self.align = nn.Sequential(nn.Linear(feature_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.perspective_emb = nn.Embedding(n_perspectives, hidden)
        if attention:
            self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
            self.mix = nn.Linear(2 * hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        # One head per perspective, evaluated together as a batched (K, hidden) -> (K, 1) MLP.
        h2 = max(hidden // 2, 8)
        self.head_w1 = nn.Parameter(torch.empty(n_perspectives, hidden, h2))
        self.head_b1 = nn.Parameter(torch.zeros(n_perspectives, h2))
        self.head_w2 = nn.Parameter(torch.empty(n_perspectives, h2))
        self.head_b2 = nn.Parameter(torch.zeros(n_perspectives))
        nn.init.normal_(self.head_w1, std=hidden**-0.5)
        nn.init.normal_(self.head_w2, std=h2**-0.5)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``features`` (B, K, F), ``mask`` (B, K) bool -> scores (B, K) > 0 (0 where masked) and attention (B, K, K)."""
        B, K, _ = features.shape
        h = self.align(features) + self.perspective_emb.weight[:K].unsqueeze(0)
        attn_w = None
        if self.use_attention:
            a, attn_w = self.attn(h, h, h, key_padding_mask=~mask, need_weights=True, average_attn_weights=True)
            h = self.mix(torch.cat([h, a.nan_to_num(0.0)], dim=-1))
        h = self.norm(F.gelu(h))
        z = F.gelu(torch.einsum("bkh,khd->bkd", h, self.head_w1[:K]) + self.head_b1[:K])
        raw = (z * self.head_w2[:K]).sum(-1) + self.head_b2[:K]
        scores = F.softplus(raw) + 1e-4 if self.score_fn == "softplus" else torch.sigmoid(raw)
        return scores * mask, attn_w
