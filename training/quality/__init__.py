"""Annotation quality checks, e.g. inter-annotator agreement (`topicframe agreement`)."""
