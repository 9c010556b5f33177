"""Batch scoring of large corpora on Apache Spark (`topicframe batch`)."""
