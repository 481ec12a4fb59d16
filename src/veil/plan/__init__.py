"""Stage 2, plan: turn detections into the regions to mask (the central record)."""

from veil.plan.record import PLAN_FORMAT, FramePlan, MediaInfo, Plan, Region

__all__ = ["PLAN_FORMAT", "FramePlan", "MediaInfo", "Plan", "Region"]
