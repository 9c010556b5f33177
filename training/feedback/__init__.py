"""Corrections sent by users (the feedback store) and their export to the training CSV format."""
