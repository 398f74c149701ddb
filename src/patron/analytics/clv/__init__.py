"""Customer lifetime value: who is still a customer, how often they will buy, what they will spend, and
what that is worth today (docs/clv.md). Names follow pymc-marketing's ``clv`` module."""

from patron.analytics.clv.base import METHODS, CLVModel, TransactionModel
from patron.analytics.clv.beta_geo import BetaGeoModel, ModifiedBetaGeoModel
from patron.analytics.clv.gamma_gamma import GammaGammaModel
from patron.analytics.clv.pareto_nbd import ParetoNBDModel
from patron.analytics.clv.shifted_beta_geo import ShiftedBetaGeoModel, from_survivors
from patron.analytics.clv.summary import rfm_summary, rfm_train_test_split, workspace_summary
from patron.analytics.clv.utils import customer_lifetime_value
from patron.analytics.clv.validation import HoldoutReport, holdout_validation

__all__ = [
    "METHODS",
    "BetaGeoModel",
    "CLVModel",
    "GammaGammaModel",
    "HoldoutReport",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "ShiftedBetaGeoModel",
    "TransactionModel",
    "customer_lifetime_value",
    "from_survivors",
    "holdout_validation",
    "rfm_summary",
    "rfm_train_test_split",
    "workspace_summary",
]
