"""The pure core: standardisation, matching, survivorship and the profile fold.

Imports only the standard library, pydantic and pure libraries (stdnum, OpenCC, pypinyin,
phonenumbers, rapidfuzz). No Kafka, SQL, web or workflow code lives here.
"""
