"""The chaos suite: the whole pipeline under kill -9 and hostile input, audited for conservation."""
