"""The bridge to the real services: a validating, recording proxy (``proxy``), HAR recordings
(``har``), the fixture a recording implies (``fixture_from``) and the drift report (``drift``)."""
