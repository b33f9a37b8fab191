"""Built-in layers of the tracking-to-training DAG, registered through entry points."""
