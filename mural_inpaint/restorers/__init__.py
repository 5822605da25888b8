"""Restorers: one interface (:class:`Restorer`), a name registry (:data:`RESTORERS`) and the region strategy."""

from mural_inpaint.restorers.base import RESTORERS, Restorer
from mural_inpaint.restorers.regions import plan_boxes, restore_regions

__all__ = ["RESTORERS", "Restorer", "plan_boxes", "restore_regions"]
