"""The bridge to the real services: a validating, recording proxy (``proxy``), HAR recordings
(``har``), the fixture a recording implies (``fixture_from``) and the drift report (``drift``)."""

# Bytes of each body a recording keeps: here, so that the commands' defaults (built by every
# ``mockserver`` command line) do not import ``har``.
DEFAULT_BODY_LIMIT = 256 * 1024
