"""The hub's Kafka adapter: how its clients authenticate (``security``), topic administration
(``admin``: creating topics, whether a cluster answers, ``NoBroker``) and reading a topic outside a
faust worker (``reader``)."""
