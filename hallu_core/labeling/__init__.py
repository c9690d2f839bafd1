"""Labeling by hand: the queue and actions, agreement and adjudication."""
