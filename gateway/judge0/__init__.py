"""The Judge0 CE 1.13 API::

api          the routes: submissions (single, batch), languages, statuses, about, config
submission   a submission decoded once, refused by field, turned into a wire request
record       a submission as kept in the bucket and as Judge0 shows it (fields, base64)
store        the JetStream key-value bucket submissions are kept in, with a TTL
statuses     Judge0's fourteen statuses and the mapping from code-engine's
languages    Judge0's language ids and the engine languages they map to
"""
