"""Data objections (数据异议), pure: a field said to be wrong is routed to the department that
holds it, answered there, and closed once the source is corrected (一数一源: fixed at the source,
not re-collected). :mod:`core.objections.model` folds the events; :mod:`core.objections.decide`
says which events a decision makes."""

from core.objections.decide import Actor, DuePolicy, answer, objection_id, raise_objection, route, sweep, withdraw
from core.objections.model import Objection, ObjectionError, Step, apply, replay

__all__ = ["Actor", "DuePolicy", "Objection", "ObjectionError", "Step", "answer", "apply", "objection_id",
           "raise_objection", "replay", "route", "sweep", "withdraw"]
