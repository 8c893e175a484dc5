"""LyCORIS LoHa / LoKr / Tucker LoCon modules as exact LoRA factors.

None of these has the ``up @ down`` form, but each has an exact low-rank one, so we never need the
dense delta for an SVD of the full matrix:

- LoHa ``(w1a @ w1b) * (w2a @ w2b)`` is ``up @ down`` with up = the row-wise Kronecker (Khatri-Rao) product
  of w1a and w2a and down = the column-wise one of w1b and w2b (rank r1*r2);
- LoKr ``kron(w1, w2a @ w2b)`` is ``kron(w1, w2a) @ kron(I, w2b)`` (mixed-product rule), and with both
  sides low-rank ``kron(w1a, w2a) @ kron(w1b, w2b)``; a conv's 4-D w2 flattened to (c, d*k*k) gives the
  same columns as the 4-D Kronecker product flattened;
- Tucker cores are folded into one side.

:func:`reduce_factors` then drops the numerically-zero directions (or caps the rank) with a QR of each
factor and an SVD of the small core: the same optimum as an SVD of the dense delta.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def tucker_weight(t: torch.Tensor, wa: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
    """LyCORIS ``make_weight_cp``: core t (r, r, k, k), wa (r, out), wb (r, in) -> (out, in, k, k)."""
    import torch

    return torch.einsum("i j k l, j r, i p -> p r k l", t, wb, wa)


def loha_factors(t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, ...] | None, int]:
    """(up, down, 4-D shape when Tucker else None, nominal rank r) of ``(w1a@w1b) * (w2a@w2b)`` (alpha not applied).

    A Tucker LoHa comes back dense: (delta flattened, None, shape, r).
    """
    r = int(t["hada_w1_b"].shape[0])
    if "hada_t1" in t:  # Tucker: materialise (rare; convs only) and let the SVD find the rank
        w = tucker_weight(t["hada_t1"], t["hada_w1_a"], t["hada_w1_b"]) * tucker_weight(
            t["hada_t2"], t["hada_w2_a"], t["hada_w2_b"]
        )
        return w.reshape(w.shape[0], -1), None, tuple(w.shape), r
    w1a, w1b, w2a, w2b = t["hada_w1_a"], _flat(t["hada_w1_b"]), t["hada_w2_a"], _flat(t["hada_w2_b"])
    up = (w1a[:, :, None] * w2a[:, None, :]).reshape(w1a.shape[0], -1)
    down = (w1b[:, None, :] * w2b[None, :, :]).reshape(-1, w1b.shape[1])
    return up, down, None, r


def lokr_factors(t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...] | None, int | None]:
    """(up, down, 4-D shape or None, rank for alpha/r or None when both sides are full) of ``kron(w1, w2)``."""
    import torch

    rank: int | None = None
    if "lokr_w1" in t:
        w1_left, w1_right = _flat(t["lokr_w1"]), None
    else:
        w1_left, w1_right = t["lokr_w1_a"], _flat(t["lokr_w1_b"])
        rank = int(t["lokr_w1_b"].shape[0])
    shape4: tuple[int, ...] | None = None
    if "lokr_w2" in t:
        w2 = t["lokr_w2"]
        if w2.dim() == 4:
            shape4 = tuple(w2.shape)
        w2_left, w2_right = _flat(w2), None
    elif "lokr_t2" in t:
        w2 = tucker_weight(t["lokr_t2"], t["lokr_w2_a"], t["lokr_w2_b"])
        shape4 = tuple(w2.shape)
        w2_left, w2_right = _flat(w2), None
        rank = int(t["lokr_w2_b"].shape[0])
    else:
        w2_left, w2_right = t["lokr_w2_a"], _flat(t["lokr_w2_b"])
        rank = int(t["lokr_w2_b"].shape[0])
    if shape4 is not None:
        w1 = w1_left if w1_right is None else w1_left @ w1_right
        shape4 = (w1.shape[0] * shape4[0], w1.shape[1] * shape4[1], *shape4[2:])
    # kron(A@B, C@D) = kron(A, C) @ kron(B, D); a full side F is F @ I or I @ F, whichever keeps the rank small.
    if w1_right is None:
        a, b = w1_left.shape
        w1_right = torch.eye(b, dtype=w1_left.dtype) if b <= a else w1_left
        w1_left = w1_left if b <= a else torch.eye(a, dtype=w1_left.dtype)
    if w2_right is None:
        c, d = w2_left.shape
        w2_right = torch.eye(d, dtype=w2_left.dtype) if d <= c else w2_left
        w2_left = w2_left if d <= c else torch.eye(c, dtype=w2_left.dtype)
    return torch.kron(w1_left, w2_left), torch.kron(w1_right, w2_right), shape4, rank


def reduce_factors(
    up: torch.Tensor,
    down: torch.Tensor | None,
    *,
    cap: int | None = None,
    rtol: float | None = None,
    keep: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The best rank-k factors of ``up @ down`` (k = numerical rank, or ``cap`` if smaller), in float64 maths.

    ``keep``: the smallest k whose factors keep this fraction of the Frobenius norm (kohya's ``sv_fro``), so an
    expansion's rank follows the energy of the delta rather than the nominal r1*r2 of a LoHa/LoKr.

    ``down=None`` means ``up`` is the dense delta itself. Returns (up' [m, k], down' [k, n], kept energy
    = ||S[:k]|| / ||S||).
    """
    import torch

    if down is None:
        qu, uc, s, vhc = None, *torch.linalg.svd(up.double(), full_matrices=False)
        qd = None
    else:
        qu, ru = torch.linalg.qr(up.double())
        qd, rd = torch.linalg.qr(down.double().T)
        uc, s, vhc = torch.linalg.svd(ru @ rd.T)
    n_cols = up.shape[1] if down is None else down.shape[1]
    if rtol is None:
        rtol = max(up.shape[0], n_cols) * torch.finfo(torch.float32).eps
    k = int((s > (s[0] * rtol if s.numel() else 0)).sum()) if s.numel() else 0
    k = max(k, 1)
    if keep is not None and s.numel():
        energy = torch.cumsum(s * s, 0)
        k = min(k, int((energy < keep * keep * energy[-1]).sum()) + 1)
    if cap is not None:
        k = min(k, cap)
    total = float(torch.linalg.vector_norm(s))
    kept = float(torch.linalg.vector_norm(s[:k])) / total if total > 0 else 1.0  # an all-zero delta loses nothing
    new_up = (uc[:, :k] if qu is None else qu @ uc[:, :k]) * s[:k]
    new_down = vhc[:k] if qd is None else vhc[:k] @ qd.T
    return new_up.float().contiguous(), new_down.float().contiguous(), kept
