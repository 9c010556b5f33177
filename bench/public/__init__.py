"""Public benchmarks reproduced through the product's own `topicframe train` command.

`python -m bench.public DATASET --data DIR --out DIR` converts a public dataset
into the project's CSV format plus a codebook, runs the real CLI against an
MLflow store, trains fastText on the same split and writes a markdown row.
"""
