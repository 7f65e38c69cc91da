"""Trend watch (issue 18): baselines of run and door figures, and advisories when they drift."""

from edge_agent.trend.watch import FIGURES, Advisory, TrendConfig, TrendConfigError, TrendWatch

__all__ = ["FIGURES", "Advisory", "TrendConfig", "TrendConfigError", "TrendWatch"]
