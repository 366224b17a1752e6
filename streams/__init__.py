"""Stream processors (faust-streaming agents): thin adapters between Kafka topics and the core."""
