"""Collaborative filtering over categorical answers: a softmax matrix factorization.

For respondent ``i`` and question ``j`` with options ``k = 1..K_j`` the model says

    P(answer = k | i, j) = softmax_k( b_jk + <u_i, w_jk> )

with a respondent vector ``u_i`` (the persona embedding), one vector ``w_jk`` and one bias
``b_jk`` per answer option. The loss is the cross-entropy of the observed answers only: a missing
answer is not a zero, it simply does not enter the loss (unlike an SVD of the filled matrix).
L2 penalties on the vectors keep respondents with few answers near the origin.

Why our own model rather than a library: implicit / scikit-learn factorizations model real-valued
or implicit-feedback matrices; none fits a per-question softmax over categorical options. Li et al.
(2023) map ordinal options to [0, 1] and regress, which cannot represent nominal questions; the
softmax form handles both and gives calibrated option probabilities for the app and the
evaluation. It is trained with mini-batch Adam in torch, which is fast at this size.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch
from persona_core.progress import tqdm

from persona_core.data.survey import Answers, Survey

log = logging.getLogger(__name__)


@dataclass
class FactorizationConfig:
    """Settings of :class:`CategoricalFactorization` (defaults tuned on the GSS 2016 wave)."""

    n_factors: int = 16
    epochs: int = 15
    batch_size: int = 512  # respondents per mini-batch
    learning_rate: float = 0.05
    respondent_l2: float = 5.0
    option_l2: float = 5.0
    seed: int = 0
    fold_in_steps: int = 300
    fold_in_learning_rate: float = 0.1
    progress: bool = True
    # Respondent vectors: "adam" updates the whole table at every step (Adam's momentum moves rows
    # not in the batch too), so an epoch costs O(respondents^2); "sparse_adam" (torch's SparseAdam,
    # lazy: only the batch's rows) costs O(respondents). "auto": adam up to ``sparse_above``
    # respondents (the tuned default: GSS results unchanged), sparse_adam above. At 1,000,000
    # respondents the dense table's fit had not finished its 15 epochs after 20 minutes (100,000: 45 s).
    respondent_optimizer: str = "auto"
    sparse_above: int = 200_000

    def __post_init__(self) -> None:
        if self.respondent_optimizer not in RESPONDENT_OPTIMIZERS:
            raise ValueError(f"respondent_optimizer must be one of {RESPONDENT_OPTIMIZERS}, got {self.respondent_optimizer!r}")

    def sparse_for(self, n_respondents: int) -> bool:
        """Whether the respondent vectors of a survey this size are fitted with SparseAdam."""
        return self.respondent_optimizer == "sparse_adam" or (
            self.respondent_optimizer == "auto" and n_respondents > self.sparse_above)


RESPONDENT_OPTIMIZERS = ("auto", "adam", "sparse_adam")


class CategoricalFactorization:
    """Softmax matrix factorization of a respondents x questions matrix of categorical answers.

    Learned state after :meth:`fit`: ``respondent_factors_`` (n_respondents x d),
    ``option_factors_`` (total options x d), ``option_bias_`` (total options),
    ``option_offsets_`` (start of each question's options), ``n_options_``,
    ``question_factors_`` (n_questions x d, for question similarity), ``loss_curve_``.
    """

    def __init__(self, config: FactorizationConfig | None = None) -> None:
        self.config = config or FactorizationConfig()

    # ------------------------------------------------------------------ fit
    def fit(self, survey: Survey, answers: Answers | None = None) -> "CategoricalFactorization":
        """Fit on ``answers`` (default: all of the survey's answers, e.g. pass the training split)."""
        cfg = self.config
        answers = survey.answers if answers is None else answers
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        self._init_layout(survey.n_options_per_question)
        d = cfg.n_factors
        n_resp = survey.n_respondents
        n_opt_total = int(self.n_options_.sum())

        # Bias initialised at the log marginal frequencies: the bias-only optimum, so the factors
        # only have to learn what differs between respondents.
        counts = np.bincount(self.option_offsets_[answers.question] + answers.option, minlength=n_opt_total)
        bias0 = np.log(counts + 1.0) - np.log(np.add.reduceat(counts + 1.0, self.option_offsets_)).repeat(self.n_options_)
        U = torch.nn.Parameter(0.1 * torch.randn(n_resp, d, generator=gen))
        W = torch.nn.Parameter(0.1 * torch.randn(n_opt_total + 1, d, generator=gen))  # +1: padding row
        b = torch.nn.Parameter(torch.tensor(np.r_[bias0, 0.0], dtype=torch.float32))
        sparse = cfg.sparse_for(n_resp)
        if sparse:
            optims = [torch.optim.Adam([W, b], lr=cfg.learning_rate), torch.optim.SparseAdam([U], lr=cfg.learning_rate)]
        else:
            optims = [torch.optim.Adam([U, W, b], lr=cfg.learning_rate)]

        # Dense layout per mini-batch of respondents: a (respondents x questions) matrix of option
        # indices (-1 = missing or held out) and a padded (questions x max options x d) view of the
        # option vectors. A batch's logits are then one einsum; missing cells are masked out of the
        # loss. On a CPU this is several times faster than gathering option vectors answer by answer.
        targets = np.full((n_resp, survey.n_questions), -1, dtype=np.int64)
        targets[answers.respondent, answers.question] = answers.option
        targets_t = torch.from_numpy(targets)
        opt_index, opt_mask = self._padded_option_index()  # (Q x K)
        n = len(answers)
        # Objective J = sum_a NLL_a + l2_u * sum_i |u_i|^2 + l2_w * |W|^2; each batch adds its
        # respondents' terms and its share of the option penalty, all divided by n. fold_in()
        # minimises the same J with W fixed.
        self.loss_curve_: list[float] = []
        bar = tqdm(range(cfg.epochs), desc="embed", unit="epoch", disable=not cfg.progress, leave=False)
        for _ in bar:
            perm = torch.randperm(n_resp, generator=gen)
            total = 0.0
            for s in range(0, n_resp, cfg.batch_size):
                rows = perm[s : s + cfg.batch_size]
                y = targets_t[rows]  # (B x Q)
                u = torch.nn.functional.embedding(rows, U, sparse=True) if sparse else U[rows]
                logits = torch.einsum("bd,qkd->bqk", u, W[opt_index]) + b[opt_index]
                logp = torch.log_softmax(logits.masked_fill(~opt_mask, float("-inf")), dim=2)
                nll_cells = -logp.gather(2, y.clamp(min=0).unsqueeze(2)).squeeze(2)
                nll = nll_cells.masked_select(y >= 0).sum()
                reg = cfg.respondent_l2 * u.pow(2).sum() + cfg.option_l2 * W.pow(2).sum() * len(rows) / n_resp
                loss = (nll + reg) / n
                for optim in optims:
                    optim.zero_grad(set_to_none=True)
                loss.backward()
                for optim in optims:
                    optim.step()
                total += float(nll.detach())
            self.loss_curve_.append(total / n)
            bar.set_postfix(loss=f"{self.loss_curve_[-1]:.4f}")

        self.respondent_factors_ = U.detach().numpy().astype(np.float32)
        self.option_factors_ = W.detach()[:-1].numpy().astype(np.float32)
        self.option_bias_ = b.detach()[:-1].numpy().astype(np.float32)
        self.question_factors_ = self._question_directions()
        return self

    # ------------------------------------------------------------ predict
    def predict_proba(self, respondents: np.ndarray, questions: np.ndarray, factors: np.ndarray | None = None) -> np.ndarray:
        """Option probabilities, shape (n, max options); zeros past each question's options.

        ``factors`` replaces the fitted respondent vectors (e.g. fold-in results or a cohort
        centroid); ``respondents`` then indexes into it.
        """
        self._check_fitted()
        U = torch.from_numpy(self.respondent_factors_ if factors is None else np.asarray(factors, dtype=np.float32))
        W = torch.from_numpy(np.vstack([self.option_factors_, np.zeros((1, self.option_factors_.shape[1]), np.float32)]))
        b = torch.from_numpy(np.r_[self.option_bias_, 0.0].astype(np.float32))
        opt_index, opt_mask = self._padded_option_index()
        r = torch.from_numpy(np.asarray(respondents, dtype=np.int64))
        q = torch.from_numpy(np.asarray(questions, dtype=np.int64))
        out = []
        with torch.no_grad():
            for s in range(0, len(r), 65536):
                sl = slice(s, s + 65536)
                logits = _logits(U[r[sl]], W, b, opt_index[q[sl]], opt_mask[q[sl]])
                out.append(torch.softmax(logits, dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, opt_index.shape[1]), np.float32)

    def predict(self, respondents: np.ndarray, questions: np.ndarray, factors: np.ndarray | None = None) -> np.ndarray:
        """Most likely option index per (respondent, question)."""
        return self.predict_proba(respondents, questions, factors).argmax(axis=1)

    def score(self, answers: Answers, factors: np.ndarray | None = None) -> dict[str, float]:
        """Accuracy and log-loss (mean negative log-likelihood) on the given answers."""
        proba = self.predict_proba(answers.respondent, answers.question, factors)
        p_true = proba[np.arange(len(answers)), answers.option]
        return {
            "accuracy": float((proba.argmax(axis=1) == answers.option).mean()),
            "log_loss": float(-np.log(np.clip(p_true, 1e-12, None)).mean()),
        }

    # ------------------------------------------------------------- fold-in
    def fold_in(self, answers_per_respondent: Sequence[tuple[np.ndarray, np.ndarray]] | Answers) -> np.ndarray:
        """Embed new respondents from their answers with the option factors fixed (no refit).

        Accepts a list of ``(question_indices, option_indices)`` pairs, one per new respondent, or an
        :class:`Answers` whose ``respondent`` holds 0-based indices of the new respondents.
        Returns an array (n_new x d). Same loss and L2 penalty as the fit.
        """
        self._check_fitted()
        cfg = self.config
        if isinstance(answers_per_respondent, Answers):
            a = answers_per_respondent
            n_new = int(a.respondent.max()) + 1 if len(a) else 0
            r, q, y = a.respondent, a.question, a.option
        else:
            n_new = len(answers_per_respondent)
            r = np.concatenate([np.full(len(qs), i) for i, (qs, _) in enumerate(answers_per_respondent)] or [np.zeros(0)])
            q = np.concatenate([np.asarray(qs) for qs, _ in answers_per_respondent] or [np.zeros(0)])
            y = np.concatenate([np.asarray(os) for _, os in answers_per_respondent] or [np.zeros(0)])
        d = self.respondent_factors_.shape[1]
        if n_new == 0:
            return np.zeros((0, d), np.float32)
        r_t = torch.from_numpy(np.asarray(r, dtype=np.int64))
        q_t = torch.from_numpy(np.asarray(q, dtype=np.int64))
        y_t = torch.from_numpy(np.asarray(y, dtype=np.int64))
        W = torch.from_numpy(np.vstack([self.option_factors_, np.zeros((1, d), np.float32)]))
        b = torch.from_numpy(np.r_[self.option_bias_, 0.0].astype(np.float32))
        opt_index, opt_mask = self._padded_option_index()
        oi, om = opt_index[q_t], opt_mask[q_t]
        U = torch.nn.Parameter(torch.zeros(n_new, d))
        optim = torch.optim.Adam([U], lr=cfg.fold_in_learning_rate)
        for _ in range(cfg.fold_in_steps):
            logits = _logits(U[r_t], W, b, oi, om)
            # Summed (not averaged) NLL per respondent + the fit's L2: the same objective as fit().
            loss = torch.nn.functional.cross_entropy(logits, y_t, reduction="sum") + cfg.respondent_l2 * U.pow(2).sum()
            optim.zero_grad(set_to_none=True)
            (loss / n_new).backward()
            optim.step()
        return U.detach().numpy().astype(np.float32)

    # ---------------------------------------------------------- persistence
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able config, arrays) for saving without pickle."""
        self._check_fitted()
        arrays = {
            "respondent_factors": self.respondent_factors_,
            "option_factors": self.option_factors_,
            "option_bias": self.option_bias_,
            "n_options": self.n_options_,
            "question_factors": self.question_factors_,
            "loss_curve": np.asarray(self.loss_curve_, np.float64),
        }
        return asdict(self.config), arrays

    @classmethod
    def from_state(cls, config: dict, arrays: dict[str, np.ndarray]) -> "CategoricalFactorization":
        model = cls(FactorizationConfig(**config))
        model._init_layout(np.asarray(arrays["n_options"]))
        model.respondent_factors_ = np.asarray(arrays["respondent_factors"], np.float32)
        model.option_factors_ = np.asarray(arrays["option_factors"], np.float32)
        model.option_bias_ = np.asarray(arrays["option_bias"], np.float32)
        model.question_factors_ = np.asarray(arrays["question_factors"], np.float32)
        model.loss_curve_ = list(np.asarray(arrays["loss_curve"]))
        return model

    # ------------------------------------------------------------- helpers
    def _init_layout(self, n_options: np.ndarray) -> None:
        self.n_options_ = np.asarray(n_options, dtype=np.int64)
        self.option_offsets_ = np.r_[0, np.cumsum(self.n_options_)[:-1]].astype(np.int64)

    def _padded_option_index(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(n_questions x max_options) global option index (padding -> the zero row) and validity mask."""
        k = int(self.n_options_.max())
        pos = np.arange(k)[None, :]
        mask = pos < self.n_options_[:, None]
        pad_row = int(self.n_options_.sum())
        index = np.where(mask, self.option_offsets_[:, None] + pos, pad_row)
        return torch.from_numpy(index), torch.from_numpy(mask)

    def _question_directions(self) -> np.ndarray:
        """One vector per question: the main direction along which its options' vectors spread,
        scaled by that spread, oriented from the first option toward the last. Questions that split
        respondents the same way get parallel vectors (used for answer-history similarity)."""
        out = np.zeros((len(self.n_options_), self.option_factors_.shape[1]), np.float32)
        if out.shape[1] == 0:
            return out
        for j, (start, n) in enumerate(zip(self.option_offsets_, self.n_options_)):
            V = self.option_factors_[start : start + n]
            Vc = V - V.mean(axis=0)
            _, s, vt = np.linalg.svd(Vc, full_matrices=False)
            direction = vt[0] * s[0]
            if (V[-1] - V[0]) @ direction < 0:
                direction = -direction
            out[j] = direction
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "respondent_factors_"):
            raise RuntimeError("CategoricalFactorization is not fitted yet: call fit() first")


def _logits(u: torch.Tensor, W: torch.Tensor, b: torch.Tensor, opt_index: torch.Tensor, opt_mask: torch.Tensor) -> torch.Tensor:
    """Logits (batch x max options) with invalid options at -inf."""
    logits = torch.einsum("bd,bkd->bk", u, W[opt_index]) + b[opt_index]
    return logits.masked_fill(~opt_mask, float("-inf"))


def majority_baseline(survey: Survey, train: Answers, test: Answers) -> dict[str, float]:
    """Accuracy of answering every question with its most common training answer, and the
    log-loss of the training marginal distribution (the bias-only model's closed-form optimum)."""
    n_opt = survey.n_options_per_question.astype(np.int64)
    offsets = np.r_[0, np.cumsum(n_opt)[:-1]]
    counts = np.bincount(offsets[train.question] + train.option, minlength=int(n_opt.sum())).astype(np.float64)
    majority = np.array([int(np.argmax(counts[o : o + k])) for o, k in zip(offsets, n_opt)])
    probs = (counts + 1.0) / np.add.reduceat(counts + 1.0, offsets).repeat(n_opt)
    p_true = probs[offsets[test.question] + test.option]
    return {
        "accuracy": float((majority[test.question] == test.option).mean()),
        "log_loss": float(-np.log(p_true).mean()),
    }
