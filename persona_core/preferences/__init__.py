"""Preference pairs: storage of pairs and votes, blind display order, import/export,
agreement and win-rate statistics, pair generation and SynthesizeMe persona induction."""
