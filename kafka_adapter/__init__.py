"""The hub's Kafka adapter: where its clients are built (``clients``), how they authenticate
(``security``), topic administration (``admin``: creating topics, whether a cluster answers,
``NoBroker``) and reading a topic outside a faust worker (``reader``)."""
