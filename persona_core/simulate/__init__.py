"""Ask everyone: score the steered (and unsteered) answer distribution of every chosen
(persona, question) pair, locally or on Ray, and store it as a resumable simulation run.

``config`` settings, ``rows`` which rows and how they are batched and chunked, ``scorer`` the
one scoring path (shared with eval and Compare), ``local`` / ``ray_engine`` the engines,
``store`` the database side, ``align`` the comparison with real answers, ``run`` the whole run.
"""
from persona_core.simulate.config import RayConfig, SimulateConfig
from persona_core.simulate.run import plan_workload, simulate

__all__ = ["RayConfig", "SimulateConfig", "plan_workload", "simulate"]
