"""Imports every domain's models so ``Base.metadata`` is complete (for Alembic and test schemas)."""

from __future__ import annotations

from patron.analytics import models as analytics_models
from patron.assistant import models as assistant_models
from patron.commerce import models as commerce_models
from patron.core import models as core_models
from patron.core.db import Base
from patron.customers import models as customer_models
from patron.dashboard import models as dashboard_models
from patron.feedback import models as feedback_models
from patron.loyalty import models as loyalty_models
from patron.social import models as social_models
from patron.surveys import models as survey_models
from patron.webhooks import models as webhook_models

metadata = Base.metadata
MODEL_MODULES = (
    core_models,
    customer_models,
    commerce_models,
    survey_models,
    webhook_models,
    dashboard_models,
    analytics_models,
    loyalty_models,
    assistant_models,
    feedback_models,
    social_models,
)
