"""Wire formats: lean decoders (and builders) shared by the dissector and the commands."""
