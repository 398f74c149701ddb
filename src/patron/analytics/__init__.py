"""Models over customer data: lifetime value (``clv``); churn and segments come later.

Analytics takes data frames in and gives data frames back, never a database session (DESIGN.md); the
summaries they start from are Ibis expressions, so they run where the orders live.
"""
