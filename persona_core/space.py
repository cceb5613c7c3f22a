"""The persona space: a survey's embeddings, 2-D map, cohorts and profiles, built and saved together.

``build_persona_space`` runs embed -> project -> cluster -> profile; ``PersonaSpace.save`` writes the
fitted objects to a folder (arrays as ``.npz``, the UMAP reducer and HDBSCAN clusterer with joblib)
and ``PersonaSpace.load`` reads them back fast, loading the reducer and clusterer only when a new
respondent has to be placed.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from persona_core.cohorts import CohortConfig, CohortFinder, shown_outlier_share
from persona_core.cohorts_sampled import SampledCohortFinder
from persona_core.data.survey import Answers, Survey
from persona_core.embed.factorization import CategoricalFactorization, FactorizationConfig, majority_baseline
from persona_core.embed.split import heldout_split
from persona_core.data.paths import artifacts_dir
from persona_core.profile import ProfileConfig, profile_cohorts
from persona_core.project import MapProjector, ProjectionConfig

STAGES = ("embed", "project", "cluster", "profile")


@dataclass
class SpaceConfig:
    """Everything that decides a persona space; stored with each embedding run."""

    heldout_fraction: float = 0.2
    split_seed: int = 0
    factorization: FactorizationConfig = field(default_factory=FactorizationConfig)
    projection: ProjectionConfig = field(default_factory=ProjectionConfig)
    cohorts: CohortConfig = field(default_factory=CohortConfig)
    profile: ProfileConfig = field(default_factory=ProfileConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SpaceConfig":
        return cls(
            heldout_fraction=d.get("heldout_fraction", 0.2),
            split_seed=d.get("split_seed", 0),
            factorization=FactorizationConfig(**d.get("factorization", {})),
            projection=ProjectionConfig(**d.get("projection", {})),
            cohorts=CohortConfig(**d.get("cohorts", {})),
            profile=ProfileConfig(**d.get("profile", {})),
        )


@dataclass
class PersonaSpace:
    """A built persona space. ``embeddings`` are the factorization's respondent vectors (the
    personas); ``coords`` the 2-D map; ``cohort_labels`` -1 for outliers; ``likely_cohorts`` the most
    likely cohort of every respondent; ``cohort_centroids`` the cohort personas."""

    survey: Survey
    config: SpaceConfig
    heldout_mask: np.ndarray
    factorization: CategoricalFactorization
    coords: np.ndarray
    cohort_labels: np.ndarray
    cohort_probabilities: np.ndarray
    likely_cohorts: np.ndarray
    cohort_centroids: dict[int, np.ndarray]
    profiles: dict[int, dict]
    metrics: dict
    seconds: dict
    run_key: str
    projector: MapProjector | None = None
    cohort_finder: CohortFinder | None = None
    _artifact_dir: Path | None = None
    _digests: dict | None = None

    # ------------------------------------------------------------ accessors
    @property
    def embeddings(self) -> np.ndarray:
        return self.factorization.respondent_factors_

    @property
    def train_answers(self) -> Answers:
        return self.survey.answers.take(~self.heldout_mask)

    @property
    def heldout_answers(self) -> Answers:
        return self.survey.answers.take(self.heldout_mask)

    def persona_vector(self, respondent: str | None = None, cohort: int | None = None) -> np.ndarray:
        """The embedding of one respondent (by id) or a cohort's centroid."""
        if (respondent is None) == (cohort is None):
            raise ValueError("give exactly one of respondent or cohort")
        if respondent is not None:
            return self.embeddings[self.survey.respondent_index(respondent)]
        if cohort not in self.cohort_centroids:
            raise KeyError(f"unknown cohort {cohort!r}; cohorts are {sorted(self.cohort_centroids)}")
        return self.cohort_centroids[cohort]

    def selection_centroid(self, respondent_ids: list[str]) -> np.ndarray:
        """Centroid of a selection of respondents (e.g. a lasso on the map) as a persona."""
        if not respondent_ids:
            raise ValueError("the selection is empty")
        idx = [self.survey.respondent_index(r) for r in respondent_ids]
        return self.embeddings[idx].mean(axis=0)

    # -------------------------------------------------- placing newcomers
    def place(self, answers_per_respondent: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
        """Embed new respondents by fold-in, put them on the map and give them a cohort."""
        emb = self.factorization.fold_in(answers_per_respondent)
        projector, finder = self._fitted_projector(), self._fitted_cohort_finder()
        xy = projector.transform(emb)
        labels, strength = finder.predict(xy)
        return {"embeddings": emb, "coords": xy, "cohort_labels": labels, "cohort_strengths": strength}

    def _fitted_projector(self) -> MapProjector:
        if self.projector is None:
            self.projector = self._load_fitted("projector.joblib")
        return self.projector

    def _fitted_cohort_finder(self) -> CohortFinder:
        if self.cohort_finder is None:
            self.cohort_finder = self._load_fitted("cohorts.joblib")
        return self.cohort_finder

    def _load_fitted(self, name: str):
        """Unpickle a fitted reducer/clusterer -- only from inside the configured artifacts root
        and only if its SHA-256 is the one recorded when the space was built, so a folder some
        database points at cannot run code here."""
        import joblib

        from persona_core.data.errors import DataError

        d = self._require_dir().resolve()
        root = artifacts_dir().resolve()
        if not d.is_relative_to(root):
            raise DataError(f"refusing to load fitted objects from outside the artifacts folder {root} "
                            "(set PERSONA_ARTIFACTS_DIR to the folder your spaces were built in)", file=d)
        path = d / name
        expected = (self._digests or {}).get(name)
        if not expected or not path.is_file() or _sha256(path) != expected:
            raise DataError(f"{name} does not match the digest recorded when this space was built; "
                            "rebuild the space (python -m persona_core build --replace)", file=path)
        return joblib.load(path)

    def _require_dir(self) -> Path:
        if self._artifact_dir is None:
            raise RuntimeError("this persona space was not saved; its reducer and clusterer are not available")
        return self._artifact_dir

    # ---------------------------------------------------------- persistence
    def save(self, directory: str | Path | None = None) -> Path:
        """Write the space to ``directory`` (default: the artifacts folder / run_key)."""
        staged = self.save_staged(directory)
        out = staged.publish()
        staged.finish()
        return out

    def save_staged(self, directory: str | Path | None = None) -> "StagedSpace":
        """Write the space into a temporary folder beside ``directory`` (default: the artifacts
        folder / run_key); :meth:`StagedSpace.publish` moves it into place and
        :meth:`StagedSpace.finish` removes its ``staging.json`` marker. Until then the folder is
        marked incomplete (by its name ``<name>.tmp-...``, then by the marker); staging folders
        left by killed processes of this host are removed here."""
        import joblib

        from persona_core.data.survey_files import save_survey_files

        out = Path(directory) if directory is not None else artifacts_dir() / self.run_key
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out.parent)
        tmp = out.with_name(out.name + f"{STAGING_INFIX}{uuid.uuid4().hex[:8]}")
        tmp.mkdir(exist_ok=False)
        (tmp / STAGING_FILE).write_text(json.dumps({"host": _host(), "pid": os.getpid()}))
        fconf, farrays = self.factorization.get_state()
        np.savez_compressed(tmp / "factorization.npz", **farrays)
        np.savez_compressed(
            tmp / "space.npz",
            heldout_mask=self.heldout_mask,
            coords=self.coords,
            cohort_labels=self.cohort_labels,
            cohort_probabilities=self.cohort_probabilities,
            likely_cohorts=self.likely_cohorts,
            centroid_labels=np.array(sorted(self.cohort_centroids), dtype=np.int64),
            centroids=np.array([self.cohort_centroids[c] for c in sorted(self.cohort_centroids)], np.float32).reshape(
                len(self.cohort_centroids), self.embeddings.shape[1]
            ),
        )
        save_survey_files(self.survey, tmp)
        digests = {}
        for name, obj in (("projector.joblib", self.projector), ("cohorts.joblib", self.cohort_finder)):
            if obj is not None:
                joblib.dump(obj, tmp / name)
                digests[name] = _sha256(tmp / name)
        meta = {
            "artifact_sha256": digests,
            "run_key": self.run_key,
            "config": self.config.to_dict(),
            "factorization_config": fconf,
            "metrics": self.metrics,
            "seconds": self.seconds,
            "profiles": {str(k): v for k, v in self.profiles.items()},
        }
        (tmp / "space.json").write_text(json.dumps(meta, indent=1))
        return StagedSpace(self, tmp, out, digests)

    @classmethod
    def load(cls, directory: str | Path) -> "PersonaSpace":
        """Read a saved space (fast: the reducer and clusterer load lazily when needed). Nothing
        read here is unpickled; see :meth:`_load_fitted` for the reducer and clusterer."""
        from persona_core.data.survey_files import META, load_survey_files

        d = Path(directory)
        if not (d / "space.json").exists():
            raise FileNotFoundError(f"no persona space saved in {d} (missing space.json)")
        if (d / "survey.pkl").exists() and not (d / META).exists():
            from persona_core.data.errors import DataError

            raise DataError("this persona space was saved by an older version (its survey as a pickle, which is "
                            "never unpickled); rebuild it: python -m persona_core build", file=d)
        meta = json.loads((d / "space.json").read_text())
        with np.load(d / "factorization.npz", allow_pickle=False) as f:
            factorization = CategoricalFactorization.from_state(meta["factorization_config"], dict(f))
        with np.load(d / "space.npz", allow_pickle=False) as s:
            arrays = dict(s)
        survey = load_survey_files(d)
        centroids = {int(c): v for c, v in zip(arrays["centroid_labels"], arrays["centroids"])}
        return cls(
            survey=survey,
            config=SpaceConfig.from_dict(meta["config"]),
            heldout_mask=arrays["heldout_mask"],
            factorization=factorization,
            coords=arrays["coords"],
            cohort_labels=arrays["cohort_labels"],
            cohort_probabilities=arrays["cohort_probabilities"],
            likely_cohorts=arrays["likely_cohorts"],
            cohort_centroids=centroids,
            profiles={int(k): v for k, v in meta["profiles"].items()},
            metrics=meta["metrics"],
            seconds=meta["seconds"],
            run_key=meta["run_key"],
            _artifact_dir=d,
            _digests=dict(meta.get("artifact_sha256") or {}),
        )


def build_persona_space(
    survey: Survey,
    config: SpaceConfig | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> PersonaSpace:
    """Embed, project, cluster and profile a survey. ``on_stage(name)`` is called as each stage
    starts (for progress displays). Held-out metrics are computed on a seeded 20 % split."""
    cfg = config or SpaceConfig()
    seconds: dict[str, float] = {}

    def stage(name: str) -> float:
        if on_stage is not None:
            on_stage(name)
        return time.perf_counter()

    t = stage("embed")
    mask = heldout_split(survey, cfg.heldout_fraction, cfg.split_seed)
    train, test = survey.answers.take(~mask), survey.answers.take(mask)
    model = CategoricalFactorization(cfg.factorization).fit(survey, train)
    heldout = model.score(test)
    majority = majority_baseline(survey, train, test)
    bias_only = CategoricalFactorization(
        FactorizationConfig(**{**asdict(cfg.factorization), "n_factors": 0, "epochs": 0, "progress": False})
    ).fit(survey, train).score(test)
    seconds["embed"] = time.perf_counter() - t

    t = stage("project")
    projector = MapProjector(cfg.projection).fit(model.respondent_factors_)
    seconds["project"] = time.perf_counter() - t

    t = stage("cluster")
    if projector.sample_index_ is None:
        finder = CohortFinder(cfg.cohorts).fit(projector.embedding_, model.respondent_factors_)
    else:  # a map fitted on a sample: cohorts fitted on it too, everyone else placed by approximate_predict
        finder = SampledCohortFinder(cfg.cohorts).fit(projector.embedding_, model.respondent_factors_,
                                                      projector.sample_index_)
    finder.merge_indistinct(survey, projector.embedding_, model.respondent_factors_)
    seconds["cluster"] = time.perf_counter() - t

    t = stage("profile")
    profiles = profile_cohorts(survey, finder.labels_, cfg.profile)
    seconds["profile"] = time.perf_counter() - t

    metrics = {
        "respondents": survey.n_respondents,
        "questions": survey.n_questions,
        "answers": survey.n_answers,
        "heldout_answers": int(mask.sum()),
        "heldout_accuracy": heldout["accuracy"],
        "heldout_log_loss": heldout["log_loss"],
        "majority_accuracy": majority["accuracy"],
        "marginal_log_loss": majority["log_loss"],
        "bias_only_accuracy": bias_only["accuracy"],
        "bias_only_log_loss": bias_only["log_loss"],
        "cohorts": finder.n_cohorts_,
        "outlier_share": finder.outlier_share_,
        "shown_outlier_share": shown_outlier_share(finder, model.respondent_factors_, cfg.cohorts),
    }
    return PersonaSpace(
        survey=survey,
        config=cfg,
        heldout_mask=mask,
        factorization=model,
        coords=projector.embedding_,
        cohort_labels=finder.labels_,
        cohort_probabilities=finder.probabilities_,
        likely_cohorts=finder.likely_labels_,
        cohort_centroids=finder.centroids_,
        profiles=profiles,
        metrics=metrics,
        seconds=seconds,
        run_key=uuid.uuid4().hex[:12],
        projector=projector,
        cohort_finder=finder,
    )


STAGING_INFIX = ".tmp-"
STAGING_FILE = "staging.json"


@dataclass
class StagedSpace:
    """A saved space still in its staging folder ``tmp``, to be moved to ``out``."""

    space: PersonaSpace
    tmp: Path
    out: Path
    digests: dict
    published: bool = False

    def publish(self) -> Path:
        """Move the folder into place (replacing an older one there) and return ``out``; it keeps
        its ``staging.json`` marker until :meth:`finish` (e.g. until the run that points at it is
        committed: a folder with the marker and no run is the remains of a killed build)."""
        import shutil

        if self.out.exists():
            shutil.rmtree(self.out)
        self.tmp.rename(self.out)
        self.published = True
        self.space._artifact_dir = self.out
        self.space._digests = self.digests
        return self.out

    def finish(self) -> None:
        """Remove the marker: the folder is complete and in use."""
        (self.out / STAGING_FILE).unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove what this save wrote (the staging folder, or ``out`` once published)."""
        import shutil

        shutil.rmtree(self.out if self.published else self.tmp, ignore_errors=True)
        if self.published:
            self.space._artifact_dir = None


def _host() -> str:
    import socket

    return socket.gethostname()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(parent: Path) -> list[Path]:
    """Remove the staging folders in ``parent`` whose writer (a process of this host) is gone,
    e.g. a build killed while saving; returns what was removed."""
    import shutil

    removed = []
    try:
        candidates = [d for d in parent.iterdir() if STAGING_INFIX in d.name and d.is_dir()]
    except OSError:
        return removed
    for d in candidates:
        try:
            info = json.loads((d / STAGING_FILE).read_text())
            stale = info["host"] == _host() and not _alive(int(info["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours to judge (no marker yet, or another format)
        if stale:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
