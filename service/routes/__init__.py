"""One router per concern: classification, model information, health and metrics, administration."""
