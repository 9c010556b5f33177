"""Model-from-code entry point for MLflow.

MLflow runs this file when it loads the model, instead of unpickling a Python
object with cloudpickle; the only pickle is the bundle, whose sha256 is checked
first.
"""

import mlflow.models

from training.pyfunc import TopicframePyfunc

mlflow.models.set_model(TopicframePyfunc())
