"""What the hub measures about itself, for Prometheus (``prometheus-client``): see :mod:`metrics.definitions`."""
